#!/bin/sh
# One consistent dump of the bot's PostgreSQL database, checked, kept BACKUP_KEEP_DAYS days.
# Connection from libpq's variables: PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE.
set -eu
dir="${BACKUP_DIR:-/backups}"
keep="${BACKUP_KEEP_DAYS:-14}"
umask 077  # dumps hold patient data: owner-only
mkdir -p "$dir"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
partial="$dir/.ldh-bot-$stamp.dump.partial"
trap 'rm -f "$partial"' EXIT
# Custom format: compressed, and pg_restore can list it (the check below) and restore it.
pg_dump --format=custom --no-owner --no-privileges --file="$partial"
pg_restore --list "$partial" >/dev/null
mv "$partial" "$dir/ldh-bot-$stamp.dump"
find "$dir" -maxdepth 1 -name 'ldh-bot-*.dump' -mtime +"$keep" -delete
echo "backup written: $dir/ldh-bot-$stamp.dump"
