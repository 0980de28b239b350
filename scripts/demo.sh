#!/usr/bin/env bash
# make demo: on each engine, load the Sakila sample as "production", run
# `restage run` twice (the first creates staging, the second refreshes it
# and retires the first copy), then show production rows next to staging.
set -euo pipefail
cd "$(dirname "$0")/.."
SAKILA=${RESTAGE_SAKILA_DIR:-testdata/sakila}
BIN=bin/restage
LOGS=$(mktemp -d)
# A demo-only key. Real runs take theirs from a secret.
export RESTAGE_MASK_KEY=${RESTAGE_MASK_KEY:-demo-only-key-not-a-secret-0123456789}
export RESTAGE_TARGET=demo RESTAGE_CONTROL_DB=restage_demo_control RESTAGE_LOG_LEVEL=info
export RESTAGE_STAGING_USERS=demo_stg:read RESTAGE_STAGING_USER_DEMO_STG_PASSWORD=demo-stg-pw
export RESTAGE_PRODUCTION_LOGINS=demo_app

# su from / : the postgres user may not enter the checkout's directory.
pgsu() { (cd / && su postgres -c "$1"); }

run_twice() { # engine
  for i in 1 2; do
    echo "-- restage run #$i ($1)"
    if ! $BIN run 2>"$LOGS/report-$1-$i.txt" >"$LOGS/log-$1-$i.json"; then
      cat "$LOGS/report-$1-$i.txt"; echo "restage run failed; JSON log: $LOGS/log-$1-$i.json" >&2; exit 1
    fi
    sed 's/^/   /' "$LOGS/report-$1-$i.txt"
  done
}

echo "== MariaDB"
mariadb -uroot -e "DROP DATABASE IF EXISTS demo_prod; DROP DATABASE IF EXISTS demo_staging; DROP DATABASE IF EXISTS restage_demo_control; CREATE DATABASE demo_prod"
for db in $(mariadb -uroot -N -e "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'restage\\_demo\\_%'"); do
  mariadb -uroot -e "DROP DATABASE \`$db\`"
done
# The sample hard-codes a `sakila` schema: never drop/create/use it.
cat "$SAKILA/mysql-schema.sql" "$SAKILA/mysql-data.sql" |
  sed -e '/^DROP SCHEMA IF EXISTS sakila;/d' -e '/^CREATE SCHEMA sakila;/d' -e '/^USE sakila;/d' -e 's/\bsakila\./demo_prod./g' |
  mariadb -uroot demo_prod
mariadb -uroot -e "CREATE USER IF NOT EXISTS 'demo_app'@'%' IDENTIFIED BY 'demo-app-pw'; GRANT SELECT, INSERT, UPDATE, DELETE ON demo_prod.* TO 'demo_app'@'%'"
RESTAGE_SOURCE_DSN='restage:restage@tcp(127.0.0.1:3306)/demo_prod' \
RESTAGE_STAGING_DSN='restage:restage@tcp(127.0.0.1:3306)/demo_staging' \
RESTAGE_RULES=examples/rules/sakila-mysql.yaml run_twice mysql
echo "-- production (demo_prod) vs staging (demo_staging), as the staging user sees it"
mariadb -uroot -t -e "SELECT p.customer_id AS id, p.first_name, p.last_name, p.email, s.first_name AS staging_first, s.last_name AS staging_last, s.email AS staging_email
  FROM demo_prod.customer p JOIN demo_staging.customer s USING (customer_id) ORDER BY customer_id LIMIT 5"
MYSQL_PWD=demo-stg-pw mariadb -h127.0.0.1 -udemo_stg demo_staging -e "SELECT COUNT(*) AS customers_visible_to_demo_stg FROM customer"
MYSQL_PWD=demo-app-pw mariadb -h127.0.0.1 -udemo_app demo_staging -e "SELECT 1" 2>&1 | sed 's/^/   production login demo_app on staging: /' || true

echo "== PostgreSQL"
pgsu "psql -q -d postgres" <<'SQL' >/dev/null
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN ('demo_prod','demo_staging') OR datname LIKE 'restage\_demo\_%';
SQL
for db in $(pgsu "psql -At -d postgres -c \"SELECT datname FROM pg_database WHERE datname IN ('demo_prod','demo_staging','restage_demo_control') OR datname LIKE 'restage\\_demo\\_%'\""); do
  pgsu "dropdb --force $db"
done
pgsu "createdb -O restage demo_prod"
PGPASSWORD=restage psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U restage -d demo_prod \
  -f "$SAKILA/postgres-schema.sql" -f "$SAKILA/postgres-data.sql" >/dev/null
pgsu "psql -q -d demo_prod" <<'SQL' >/dev/null
DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'demo_app') THEN CREATE ROLE demo_app LOGIN PASSWORD 'demo-app-pw'; END IF; END $$;
GRANT CONNECT ON DATABASE demo_prod TO demo_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO demo_app;
SQL
RESTAGE_SOURCE_DSN='postgres://restage:restage@127.0.0.1:5432/demo_prod?sslmode=disable' \
RESTAGE_STAGING_DSN='postgres://restage:restage@127.0.0.1:5432/demo_staging?sslmode=disable' \
RESTAGE_RULES=examples/rules/sakila-postgres.yaml run_twice postgres
for db in demo_prod demo_staging; do
  echo "-- $db"
  PGPASSWORD=restage psql -h 127.0.0.1 -U restage -d "$db" -c "SELECT customer_id, first_name, last_name, email FROM customer ORDER BY customer_id LIMIT 5"
done
PGPASSWORD=demo-app-pw psql -h 127.0.0.1 -U demo_app -d demo_staging -c "SELECT 1" 2>&1 | sed 's/^/   production login demo_app on staging: /' || true
echo "demo done: production untouched; staging refreshed twice, masked, verified; the first copy retired. JSON logs in $LOGS"
