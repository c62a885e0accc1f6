#!/bin/sh
# One-shot (the temporal-schema service): creates Temporal's two PostgreSQL databases and brings their schemas
# to the version this admin-tools image ships, which matches the server of the same version. Safe to run at
# every `up`: create-database skips an existing database, setup-schema skips a versioned one, update-schema
# applies only the missing steps. temporal-sql-tool reads SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER and
# SQL_PASSWORD from the environment, so the password is in no process's arguments.
set -eu
: "${SQL_PLUGIN:?}" "${SQL_HOST:?}" "${SQL_USER:?}" "${SQL_PASSWORD:?}"
schema=/etc/temporal/schema/postgresql/v12

setup() { # <database> <schema folder>
  echo "temporal-schema: database $1"
  temporal-sql-tool --db "$1" create-database
  temporal-sql-tool --db "$1" setup-schema -v 0.0
  temporal-sql-tool --db "$1" update-schema -d "$schema/$2/versioned"
}

setup temporal temporal
setup temporal_visibility visibility
echo "temporal-schema: done"
