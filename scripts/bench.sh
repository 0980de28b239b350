#!/usr/bin/env bash
# make bench: build bin/restage, then print the masking benchmark report
# (test/benchreport): restage mask vs a server-side set-based UPDATE vs a
# row-by-row loop on a generated 1,000,000-row table, on MariaDB/MySQL and
# PostgreSQL (scripts/servers.sh starts them; make bench runs it first).
#
# Extra flags go to the report program, from the command line or BENCH_FLAGS:
#   bash scripts/bench.sh -rows 20000 -engines postgres -workers 1,2,4 -out bench.txt
#   BENCH_FLAGS='-rows 20000 -out bench.txt' make bench
# Servers: RESTAGE_TEST_MYSQL_DSN, RESTAGE_TEST_POSTGRES_DSN (as for make test).
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory build
# shellcheck disable=SC2086 # BENCH_FLAGS is a list of flags
exec go run ./test/benchreport -bin bin/restage ${BENCH_FLAGS:-} "$@"
