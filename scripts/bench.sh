#!/usr/bin/env bash
# make bench: build bin/restage, then print the benchmark report
# (test/benchreport, docs/benchmarks.md describes it): M0 (the rewrite
# limit), plain copy, restage run end to end, restage mask, server-side
# UPDATE and a row-by-row loop on generated 1M- and 5M-row tables, workers
# 1, 2, 4, plus the jpshop fixture; medians of 3 interleaved rounds; on
# MariaDB/MySQL and PostgreSQL (scripts/servers.sh starts them; make bench
# runs it first). It takes a long time: use small sizes to try it.
#
# Extra flags go to the report program, from the command line or BENCH_FLAGS:
#   bash scripts/bench.sh -rows 20000 -engines postgres -workers 1,2 -repeat 1 -jpshop 0 -out bench.txt
#   BENCH_FLAGS='-rows 20000 -strict -out bench.txt' make bench
# Servers: RESTAGE_TEST_MYSQL_DSN, RESTAGE_TEST_POSTGRES_DSN (as for make test).
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory build
# shellcheck disable=SC2086 # BENCH_FLAGS is a list of flags
exec go run ./test/benchreport -bin bin/restage ${BENCH_FLAGS:-} "$@"
