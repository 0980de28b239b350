#!/usr/bin/env bash
# make demo: load the Sakila sample as "production" on MariaDB and
# PostgreSQL, copy it to a "staging" database, mask the copy with restage
# and show a few production rows next to their staging rows.
# (The full refresh pipeline, `restage run`, replaces the copy step later.)
set -euo pipefail
cd "$(dirname "$0")/.."
SAKILA=${RESTAGE_SAKILA_DIR:-../shared/testdata/sakila}
# A demo-only key. Real runs take theirs from a secret.
export RESTAGE_MASK_KEY=${RESTAGE_MASK_KEY:-demo-only-key-not-a-secret-0123456789}
BIN=bin/restage

load_mysql() { # db
  mariadb -uroot -e "DROP DATABASE IF EXISTS \`$1\`; CREATE DATABASE \`$1\`"
  # The sample hard-codes a `sakila` schema: never drop/create/use it, load
  # into the named database instead.
  cat "$SAKILA/mysql-schema.sql" "$SAKILA/mysql-data.sql" |
    sed -e '/^DROP SCHEMA IF EXISTS sakila;/d' -e '/^CREATE SCHEMA sakila;/d' -e '/^USE sakila;/d' \
        -e "s/\bsakila\./\`$1\`./g" | mariadb -uroot "$1"
}
load_pg() { # db
  su postgres -c "dropdb --if-exists --force $1 2>/dev/null; createdb -O restage $1"
  PGPASSWORD=restage psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U restage -d "$1" \
    -f "$SAKILA/postgres-schema.sql" -f "$SAKILA/postgres-data.sql" >/dev/null
}

echo "== MariaDB: loading Sakila as production (restage_demo_prod) and a staging copy (restage_demo_staging)"
load_mysql restage_demo_prod
load_mysql restage_demo_staging
echo "== MariaDB: masking the staging copy"
$BIN mask --dsn 'restage:restage@tcp(127.0.0.1:3306)/restage_demo_staging' \
  --rules examples/rules/sakila-mysql.yaml --confirm 127.0.0.1:3306/restage_demo_staging >/dev/null
echo "-- production vs staging (customer)"
mariadb -uroot -t -e "SELECT p.customer_id, p.first_name, p.last_name, p.email, s.first_name AS staging_first, s.last_name AS staging_last, s.email AS staging_email
  FROM restage_demo_prod.customer p JOIN restage_demo_staging.customer s USING (customer_id) ORDER BY customer_id LIMIT 5"
mariadb -uroot -t -e "SELECT p.address_id, p.address, p.phone, s.address AS staging_address, s.phone AS staging_phone
  FROM restage_demo_prod.address p JOIN restage_demo_staging.address s USING (address_id) ORDER BY address_id LIMIT 5"

echo "== PostgreSQL: loading Sakila as production (restage_demo_prod) and a staging copy (restage_demo_staging)"
load_pg restage_demo_prod
load_pg restage_demo_staging
echo "== PostgreSQL: masking the staging copy"
$BIN mask --dsn 'postgres://restage:restage@127.0.0.1:5432/restage_demo_staging?sslmode=disable' \
  --rules examples/rules/sakila-postgres.yaml --confirm 127.0.0.1:5432/restage_demo_staging >/dev/null
echo "-- production vs staging (customer)"
for db in restage_demo_prod restage_demo_staging; do
  echo "   $db:"
  PGPASSWORD=restage psql -h 127.0.0.1 -U restage -d "$db" -c "SELECT customer_id, first_name, last_name, email FROM customer ORDER BY customer_id LIMIT 5"
done
echo "demo done: production databases untouched, staging copies masked."
