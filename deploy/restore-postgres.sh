#!/bin/sh
# Restore a dump from backup-postgres.sh into PGDATABASE, replacing what is there, all or
# nothing. Stop every bot process first. Usage: restore-postgres.sh /backups/ldh-bot-....dump
set -eu
if [ "$#" -ne 1 ] || [ ! -r "$1" ]; then
  echo "usage: restore-postgres.sh DUMP (a readable file from backup-postgres.sh)" >&2
  exit 2
fi
pg_restore --list "$1" >/dev/null
: "${PGDATABASE:?set PGDATABASE}"
# A patient's revision is never given twice: a bot process may hold one it wrote (see
# bot/storage/postgres/recent.py). The dump's sequence would give again those given since the
# dump was taken, so it goes on from where the replaced database had got to.
given=$(psql -XAtq -v ON_ERROR_STOP=1 \
  -c "SELECT coalesce(pg_sequence_last_value(to_regclass('patients_revision')), 0)")
pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction \
  --exit-on-error --dbname="$PGDATABASE" "$1"
if [ "$given" -gt 0 ]; then
  psql -XAtq -v ON_ERROR_STOP=1 -c "SELECT setval(s, greatest($given,
      coalesce(pg_sequence_last_value(s), 0))) FROM to_regclass('patients_revision') AS s
      WHERE s IS NOT NULL" >/dev/null
fi
echo "restored $1 into $PGDATABASE"
