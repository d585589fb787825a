#!/usr/bin/env bash
# The backup and restore drill of docs/operations.md, on PostgreSQL; `.ci/run` runs it as a step.
#
#   1. a fresh database, migrated and seeded with seed_demo;
#   2. one waiting application given a lookup code and looked up as a family would (the answer and
#      every table's row count saved);
#   3. pg_dump of that database (custom format, the backup);
#   4. pg_restore into another new database (the restore);
#   5. on the restored database: `migrate --check` (no migration missing), `verify_decisions`
#      (every decision chain intact), the same row counts, and the same lookup with the same code
#      answering exactly as before.
#
# Both databases and the dump are removed on exit. Settings: PG_HOST, PG_PORT, PG_USER (defaults
# 127.0.0.1, 5432, postgres) and PYTHON (default .venv/bin/python); DRILL_DB_PREFIX names the
# databases (default restore_drill). Exit 0 only when every check passed.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
STAMP="$(date +%Y%m%d%H%M%S)_$$"
LIVE_DB="${DRILL_DB_PREFIX:-restore_drill}_${STAMP}_live"
RESTORED_DB="${DRILL_DB_PREFIX:-restore_drill}_${STAMP}_restored"
WORK=$(mktemp -d)
PG=(-h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER")

cleanup() {
	dropdb --if-exists --force "${PG[@]}" "$LIVE_DB" >/dev/null 2>&1 || true
	dropdb --if-exists --force "${PG[@]}" "$RESTORED_DB" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

# One installation's settings for both halves: the lookup code's hash depends on the keys, so the
# restored database must be read with the keys it was written with (docs/operations.md, keys).
export DEBUG=1
export SECRET_KEY="${SECRET_KEY:-restore-drill-only-not-a-real-key}"
unset CELERY_BROKER_URL REDIS_CACHE_URL
url() { echo "postgres://$PG_USER@$PG_HOST:$PG_PORT/$1"; }

step() { printf '\n-- %s\n' "$*"; }

step "1. a seeded database: $LIVE_DB"
createdb "${PG[@]}" "$LIVE_DB"
DATABASE_URL=$(url "$LIVE_DB") "$PYTHON" manage.py migrate --noinput -v 0
DATABASE_URL=$(url "$LIVE_DB") "$PYTHON" manage.py seed_demo | tail -n 3

step "2. a lookup before the backup"
DATABASE_URL=$(url "$LIVE_DB") "$PYTHON" tools/restore_probe.py snapshot "$WORK/before.json"

step "3. backup: pg_dump --format=custom"
pg_dump "${PG[@]}" --format=custom --file="$WORK/backup.dump" "$LIVE_DB"
ls -l "$WORK/backup.dump"

step "4. restore into a new database: $RESTORED_DB"
createdb "${PG[@]}" "$RESTORED_DB"
pg_restore "${PG[@]}" --exit-on-error --dbname="$RESTORED_DB" "$WORK/backup.dump"

step "5. checks on the restored database"
export DATABASE_URL
DATABASE_URL=$(url "$RESTORED_DB")
"$PYTHON" manage.py migrate --check --noinput
echo "migrate --check: no migration missing"
"$PYTHON" manage.py verify_decisions
"$PYTHON" tools/restore_probe.py compare "$WORK/before.json"

step "restore drill passed"
