#!/usr/bin/env bash
# PostgreSQL point-in-time-restore drill (docs/backup.md). On this machine, in a temporary
# directory, it:
#   1. starts its own S3-compatible server (versitygw, installed into .run/bin by
#      scripts/services.sh) and a primary cluster whose archive_command is
#      `atrium backup wal-push %p %f` (each WAL segment uploaded to the bucket), and applies
#      Atrium's migrations with `atrium migrate`;
#   2. writes balanced ledger transactions, takes a base backup streamed into the bucket
#      (pg_basebackup -D - -Ft | atrium backup base-push), writes more, sets a restore point,
#      and writes a batch that must NOT come back;
#   3. restores to a second cluster on another port from S3 only (atrium backup base-fetch |
#      tar -x, restore_command = `atrium backup wal-fetch %f %p`), recovering to the restore
#      point, and checks row counts and that the ledger sums to 0;
#   4. measures RPO (how long a commit waits before its WAL is in the bucket, bounded by
#      archive_timeout) and RTO (restore start, download included, to the restored cluster
#      accepting writes), prints them, and writes atrium_backup_last_success_timestamp_seconds
#      (the alert rules' input) to $ATRIUM_BACKUP_TEXTFILE (default: the work directory's
#      backup.prom).
# Exits non-zero on any mismatch. Needs PostgreSQL's server binaries (Debian postgresql).
set -euo pipefail
cd "$(dirname "$0")/.."
ARCHIVE_TIMEOUT=${ARCHIVE_TIMEOUT:-5}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$PGBIN/initdb" ] || { echo "backup-drill: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/atrium-backup-drill.XXXXXX)
ATRIUM_BIN=${ATRIUM_BIN:-$WORK/atrium}
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "backup-drill: no free port" >&2; exit 1
}
cleanup() {
  [ -n "${S3_PID:-}" ] && kill "$S3_PID" 2>/dev/null || true
  for d in "$WORK/primary" "$WORK/restored"; do
    [ -f "$d/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] && chown postgres "$WORK"
[ -x "$ATRIUM_BIN" ] || go build -o "$ATRIUM_BIN" ./cmd/atrium
VERSITYGW=${ATRIUM_VERSITYGW:-$PWD/.run/bin/versitygw}
[ -x "$VERSITYGW" ] || { echo "backup-drill: $VERSITYGW missing (run scripts/services.sh)" >&2; exit 1; }
P1=$(free_port); P2=$(free_port); P3=$(free_port)
[ "$P1" != "$P2" ] || P2=$((P1 + 1))

# The archive: a bucket on a versitygw of our own, its settings in a file the postgres user
# reads (archive_command and restore_command run as the server's user).
mkdir -p "$WORK/s3"
ROOT_ACCESS_KEY_ID=drill ROOT_SECRET_ACCESS_KEY=drill-secret-key \
  "$VERSITYGW" --port "127.0.0.1:$P3" posix "$WORK/s3" >"$WORK/versitygw.log" 2>&1 &
S3_PID=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$P3") 2>/dev/null && break; sleep 0.1; done
cat > "$WORK/backup.yaml" <<CONF
s3: {endpoint: "127.0.0.1:$P3", bucket: atrium-wal, access_key: drill, secret_key: drill-secret-key}
prefix: drill
CONF
[ "$(id -u)" = 0 ] && chown postgres "$WORK/backup.yaml"
chmod 600 "$WORK/backup.yaml"
BACKUP="$ATRIUM_BIN backup -config $WORK/backup.yaml"
$BACKUP init
psql1() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$P1" -U postgres -d atrium -At "$@"; }
psql2() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$P2" -U postgres -d atrium -At "$@"; }

# 1. Primary with WAL archiving.
as_pg "$PGBIN/initdb" -D "$WORK/primary" -U postgres --auth=trust >/dev/null
cat >> "$WORK/primary/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $P1
unix_socket_directories = '$WORK'
wal_level = replica
archive_mode = on
archive_command = '$BACKUP wal-push %p %f'
archive_timeout = $ARCHIVE_TIMEOUT
fsync = on
CONF
as_pg "$PGBIN/pg_ctl" -D "$WORK/primary" -l "$WORK/primary.log" -w start >/dev/null
psql -X -q -h 127.0.0.1 -p "$P1" -U postgres -d postgres -c "CREATE DATABASE atrium"
ATRIUM_DATABASE_URL="postgres://postgres@127.0.0.1:$P1/atrium?sslmode=disable" "$ATRIUM_BIN" migrate >"$WORK/migrate.log" 2>&1 \
  || { cat "$WORK/migrate.log" >&2; exit 1; }

psql1 <<'SQL'
INSERT INTO ledger_accounts (kind, allow_negative) VALUES ('cash', true);
INSERT INTO ledger_accounts (kind, owner_id) VALUES ('wallet', gen_random_uuid());
SQL
# batch N COUNT: COUNT balanced transactions (cash -5, wallet +5), one database transaction.
batch() {
  psql1 <<SQL
BEGIN;
WITH tx AS (
  INSERT INTO ledger_transactions (idempotency_key, kind, created_at)
  SELECT 'drill-$1-' || g, 'drill', now() FROM generate_series(1, $2) g RETURNING id)
INSERT INTO ledger_entries (transaction_id, account_id, amount, created_at)
SELECT tx.id, a.id, CASE a.kind WHEN 'cash' THEN -5 ELSE 5 END, now()
FROM tx CROSS JOIN ledger_accounts a;
COMMIT;
SQL
}
batch 1 2000

# 2. Base backup, more writes, a restore point, then writes that must not come back.
t=$(now)
as_pg "$PGBIN/pg_basebackup" -h "$WORK" -p "$P1" -U postgres -D - -Ft -X fetch -c fast | $BACKUP base-push 2>>"$WORK/s3push.log"
BASEBACKUP_S=$(since "$t")
batch 2 3000
psql1 -c "SELECT pg_create_restore_point('atrium-drill')" >/dev/null
WANT_TX=$(psql1 -c "SELECT count(*) FROM ledger_transactions")
WANT_ENTRIES=$(psql1 -c "SELECT count(*) FROM ledger_entries")
WANT_WALLET=$(psql1 -c "SELECT balance FROM ledger_accounts WHERE kind = 'wallet'")
batch 3 500

# RPO: how long a commit waits until the WAL segment holding it is archived, with no forced
# switch (archive_timeout decides).
seg=$(psql1 -c "INSERT INTO ledger_accounts (kind, owner_id) VALUES ('earnings', gen_random_uuid()); SELECT pg_walfile_name(pg_current_wal_lsn())" | tail -1)
t=$(now)
until $BACKUP wal-fetch "$seg" "$WORK/probe" 2>/dev/null; do
  sleep 0.1
  if awk -v a="$(since "$t")" -v m="$((ARCHIVE_TIMEOUT * 4 + 10))" 'BEGIN { exit !(a > m) }'; then
    echo "backup-drill: segment $seg not archived within $((ARCHIVE_TIMEOUT * 4 + 10)) s" >&2; exit 1
  fi
done
RPO_S=$(since "$t")
as_pg "$PGBIN/pg_ctl" -D "$WORK/primary" -m fast stop >/dev/null

# 3. Restore to a second cluster from the bucket alone, recovering to the restore point.
t=$(now)
as_pg mkdir -m 700 "$WORK/restored"
$BACKUP base-fetch latest 2>>"$WORK/s3push.log" | as_pg tar -x -C "$WORK/restored"
cat >> "$WORK/restored/postgresql.conf" <<CONF
port = $P2
archive_mode = off
restore_command = '$BACKUP wal-fetch %f %p'
recovery_target_name = 'atrium-drill'
recovery_target_action = 'promote'
CONF
as_pg touch "$WORK/restored/recovery.signal"
as_pg "$PGBIN/pg_ctl" -D "$WORK/restored" -l "$WORK/restored.log" -w -t 120 start >/dev/null
until [ "$(psql2 -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = "f" ]; do sleep 0.1; done
psql2 -c "CREATE TEMP TABLE write_check (x int)" >/dev/null # accepts writes: promoted
RTO_S=$(since "$t")

GOT_TX=$(psql2 -c "SELECT count(*) FROM ledger_transactions")
GOT_ENTRIES=$(psql2 -c "SELECT count(*) FROM ledger_entries")
GOT_WALLET=$(psql2 -c "SELECT balance FROM ledger_accounts WHERE kind = 'wallet'")
SUM=$(psql2 -c "SELECT COALESCE(sum(amount), 0) FROM ledger_entries")
AFTER=$(psql2 -c "SELECT count(*) FROM ledger_transactions WHERE idempotency_key LIKE 'drill-3-%'")
fail=0
check() { if [ "$2" != "$3" ]; then echo "backup-drill: FAIL $1: restored $2, want $3" >&2; fail=1; else echo "  ok  $1 = $2"; fi; }
echo "PITR drill: restored from S3 (versitygw) to restore point 'atrium-drill' on port $P2"
check "ledger transactions" "$GOT_TX" "$WANT_TX"
check "ledger entries" "$GOT_ENTRIES" "$WANT_ENTRIES"
check "wallet balance" "$GOT_WALLET" "$WANT_WALLET"
check "ledger sum" "$SUM" 0
check "transactions after the restore point" "$AFTER" 0
[ "$fail" = 0 ] || exit 1
echo "  base backup to S3 ${BASEBACKUP_S}s, RPO (commit to WAL in S3, archive_timeout ${ARCHIVE_TIMEOUT}s) ${RPO_S}s, RTO (download + replay to writable) ${RTO_S}s"
echo "BACKUP_DRILL base_backup_s=$BASEBACKUP_S rpo_s=$RPO_S rto_s=$RTO_S"
OUT=${ATRIUM_BACKUP_TEXTFILE:-$WORK/backup.prom}
{
  echo "# HELP atrium_backup_last_success_timestamp_seconds When the last base backup (and its restore drill) succeeded."
  echo "# TYPE atrium_backup_last_success_timestamp_seconds gauge"
  echo "atrium_backup_last_success_timestamp_seconds $(date +%s)"
} > "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
