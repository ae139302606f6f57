#!/bin/sh
# Restore a dump from backup-postgres.sh into PGDATABASE, replacing what is there, all or
# nothing. Stop every bot process first. Usage: restore-postgres.sh /backups/ldh-bot-....dump
set -eu
if [ "$#" -ne 1 ] || [ ! -r "$1" ]; then
  echo "usage: restore-postgres.sh DUMP (a readable file from backup-postgres.sh)" >&2
  exit 2
fi
pg_restore --list "$1" >/dev/null
pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction \
  --exit-on-error --dbname="${PGDATABASE:?set PGDATABASE}" "$1"
echo "restored $1 into $PGDATABASE"
