#!/usr/bin/env bash
# Installs (if missing) and starts the local MariaDB and PostgreSQL servers,
# then makes sure the "restage" login exists on both with the rights the
# tests and the demo need. Idempotent; safe to run on every CI run.
set -euo pipefail

need_root() { if [ "$(id -u)" != 0 ]; then echo "scripts/servers.sh: run as root (it installs and starts servers)" >&2; exit 2; fi; }

if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
  need_root
  echo "installing mariadb-server ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server mariadb-client >/dev/null
fi
if ! command -v psql >/dev/null 2>&1 || ! command -v pg_ctlcluster >/dev/null 2>&1; then
  need_root
  echo "installing postgresql ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

# MariaDB
if ! mariadb-admin ping --silent >/dev/null 2>&1; then
  need_root
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  for _ in $(seq 1 60); do mariadb-admin ping --silent >/dev/null 2>&1 && break; sleep 0.5; done
  mariadb-admin ping --silent >/dev/null || { echo "mariadb did not start" >&2; exit 1; }
fi
mariadb -uroot <<'SQL'
CREATE USER IF NOT EXISTS 'restage'@'127.0.0.1' IDENTIFIED BY 'restage';
CREATE USER IF NOT EXISTS 'restage'@'localhost' IDENTIFIED BY 'restage';
GRANT ALL PRIVILEGES ON *.* TO 'restage'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO 'restage'@'localhost' WITH GRANT OPTION;
SQL

# PostgreSQL
ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | grep -q online; then
  need_root
  cluster=$(pg_lsclusters -h | awk 'NR==1{print $2}')
  if [ -z "$cluster" ]; then pg_createcluster "$ver" main >/dev/null; cluster=main; fi
  pg_ctlcluster --skip-systemctl-redirect "$ver" "$cluster" start
fi
for _ in $(seq 1 60); do (cd / && su postgres -c "pg_isready -q -h 127.0.0.1") && break; sleep 0.5; done
(cd / && su postgres -c "psql -q -v ON_ERROR_STOP=1 -d postgres") <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'restage') THEN
    CREATE ROLE restage LOGIN SUPERUSER PASSWORD 'restage';
  END IF;
END $$;
SQL
echo "servers ready: mariadb $(mariadb -uroot -Nse 'select version()'), postgresql $ver"
