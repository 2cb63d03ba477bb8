#!/usr/bin/env bash
# pg-standby.sh — a streaming standby of the test PostgreSQL (started by start-services.sh) for the replication
# checks: a second PostgreSQL cluster on another loopback port, made with pg_basebackup, streaming through a
# physical replication slot. Debian 12 as root (CI) or a dev box; idempotent: a standby that already streams is
# left alone.
#
#   bash scripts/backends/pg-standby.sh      # stdout: `export PG_STANDBY_URL=... PG_STANDBY_ARCHIVE_FAIL=...`
#
# The standby archives the WAL it receives (archive_mode = always) with a command that discards it, and fails
# while the file $PG_STANDBY_ARCHIVE_FAIL exists: the tests use it to see a failing archiver.
#
# Primary side (all idempotent, no restart unless needed): wal_level >= replica, max_wal_senders and
# max_replication_slots > 0 (Debian's defaults; only a primary configured otherwise is changed and restarted),
# a `host replication` pg_hba line for 127.0.0.1/32 (added + reload only if missing), a replication role and
# the slot.
set -euo pipefail

PG_VERSION="${PG_VERSION:-15}"; PG_CLUSTER="${PG_CLUSTER:-main}"; PG_PORT="${PG_PORT:-5432}"
PG_USER="${PG_USER:-postgres}"; PG_PASSWORD="${PG_PASSWORD:-postgres}"; PG_DB="${PG_DB:-mcp_test}"
STANDBY_CLUSTER="${PG_STANDBY_CLUSTER:-standby}"; STANDBY_PORT="${PG_STANDBY_PORT:-5433}"
REPL_USER="${PG_REPL_USER:-bam_replicator}"; REPL_PASSWORD="${PG_REPL_PASSWORD:-bam_replicator}"
SLOT="${PG_STANDBY_SLOT:-bam_standby}"
STATE_DIR="${STATE_DIR:-/tmp/mcp-backends}"
ARCHIVE_FAIL_FLAG="${PG_STANDBY_ARCHIVE_FAIL:-$STATE_DIR/pg-standby-archive-fail}"

log() { echo "[pg-standby $(date +%T)] $*" >&2; }
psql_primary() { runuser -u postgres -- psql -p "$PG_PORT" -v ON_ERROR_STOP=1 -qAt "$@"; }
psql_standby() { runuser -u postgres -- psql -p "$STANDBY_PORT" -v ON_ERROR_STOP=1 -qAt "$@"; }
online() { pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$1" '$1==v && $2==c && $4 ~ /online/ {f=1} END {exit !f}'; }
exists() { pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$1" '$1==v && $2==c {f=1} END {exit !f}'; }
streaming() {
  [ "$(psql_primary -c "SELECT count(*) FROM pg_stat_replication WHERE application_name = '$SLOT' AND state = 'streaming'" 2>/dev/null)" = 1 ] \
    && [ "$(psql_standby -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = t ]
}
wait_for() {  # wait_for SECONDS DESCRIPTION CMD...
  local end=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge "$end" ]; then log "TIMEOUT waiting for $what"; return 1; fi
    sleep 0.5
  done
}

online "$PG_CLUSTER" || { log "primary $PG_VERSION/$PG_CLUSTER is not running (start-services.sh first)"; exit 1; }

prepare_primary() {
  local restart=0 conf="/etc/postgresql/$PG_VERSION/$PG_CLUSTER/conf.d/backend-architect-mcp-replication.conf"
  if [ "$(psql_primary -c "SELECT current_setting('wal_level') IN ('replica', 'logical') AND current_setting('max_wal_senders')::int > 0 AND current_setting('max_replication_slots')::int > 0")" != t ]; then
    log "primary: wal_level=replica, max_wal_senders=10, max_replication_slots=10 (needs a restart)"
    printf "wal_level = replica\nmax_wal_senders = 10\nmax_replication_slots = 10\n" > "$conf"
    restart=1
  fi
  if [ "$(psql_primary -c "SELECT count(*) FROM pg_hba_file_rules WHERE type = 'host' AND 'replication' = ANY(database) AND (address IS NULL OR address = '127.0.0.1' OR (address || '/' || coalesce(netmask, '')) IN ('0.0.0.0/0.0.0.0', '127.0.0.0/255.0.0.0'))")" = 0 ]; then
    local hba; hba=$(psql_primary -c 'SHOW hba_file')
    log "primary: adding 'host replication all 127.0.0.1/32 scram-sha-256' to $hba"
    echo "host replication all 127.0.0.1/32 scram-sha-256" >> "$hba"
    [ $restart = 1 ] || psql_primary -c 'SELECT pg_reload_conf()' >/dev/null
  fi
  if [ $restart = 1 ]; then
    pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" restart >&2
    wait_for 30 "primary after restart" psql_primary -c 'select 1'
  fi
  psql_primary >&2 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$REPL_USER') THEN CREATE ROLE "$REPL_USER" LOGIN REPLICATION; END IF;
END \$\$;
ALTER ROLE "$REPL_USER" WITH LOGIN REPLICATION PASSWORD '$REPL_PASSWORD';
SELECT pg_create_physical_replication_slot('$SLOT') WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = '$SLOT');
SQL
}

build_standby() {
  local data="/var/lib/postgresql/$PG_VERSION/$STANDBY_CLUSTER" etc="/etc/postgresql/$PG_VERSION/$STANDBY_CLUSTER"
  if exists "$STANDBY_CLUSTER"; then
    log "dropping the stale standby cluster $PG_VERSION/$STANDBY_CLUSTER"
    pg_dropcluster --stop "$PG_VERSION" "$STANDBY_CLUSTER" >&2
  fi
  log "creating $PG_VERSION/$STANDBY_CLUSTER on 127.0.0.1:$STANDBY_PORT with pg_basebackup from :$PG_PORT"
  pg_createcluster "$PG_VERSION" "$STANDBY_CLUSTER" -p "$STANDBY_PORT" >&2
  rm -rf "${data:?}"/*
  runuser -u postgres -- env PGPASSWORD="$REPL_PASSWORD" pg_basebackup -h 127.0.0.1 -p "$PG_PORT" -U "$REPL_USER" \
    -D "$data" -X stream -S "$SLOT" -c fast >&2
  write_standby_conf >/dev/null || true
  runuser -u postgres -- touch "$data/standby.signal"
  pg_ctlcluster "$PG_VERSION" "$STANDBY_CLUSTER" start >&2
}

write_standby_conf() {  # returns 0 when the file changed
  local conf="/etc/postgresql/$PG_VERSION/$STANDBY_CLUSTER/conf.d/standby.conf" tmp
  # hot standby needs these at least as high as on the primary
  local s; s=$(psql_primary -F= -c "SELECT name, setting FROM pg_settings WHERE name IN ('max_connections', 'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions', 'max_locks_per_transaction') ORDER BY name")
  tmp=$(mktemp)
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "hot_standby = on"
    echo "primary_conninfo = 'host=127.0.0.1 port=$PG_PORT user=$REPL_USER password=$REPL_PASSWORD application_name=$SLOT'"
    echo "primary_slot_name = '$SLOT'"
    # the standby archives what it receives; archiving fails while the flag file exists (the archiving test)
    echo "archive_mode = always"
    echo "archive_command = 'test ! -e $ARCHIVE_FAIL_FLAG'"
    echo "$s" | sed 's/=\(.*\)/ = \1/'
  } > "$tmp"
  if cmp -s "$tmp" "$conf"; then rm -f "$tmp"; return 1; fi
  install -o postgres -g postgres -m 0644 "$tmp" "$conf"; rm -f "$tmp"
}

prepare_primary
if online "$STANDBY_CLUSTER" && streaming; then
  if write_standby_conf; then
    log "standby configuration changed: restarting $PG_VERSION/$STANDBY_CLUSTER"
    pg_ctlcluster "$PG_VERSION" "$STANDBY_CLUSTER" restart >&2
    wait_for 60 "standby streaming" streaming
  fi
  log "standby $PG_VERSION/$STANDBY_CLUSTER streaming on $STANDBY_PORT"
else
  if exists "$STANDBY_CLUSTER" && ! online "$STANDBY_CLUSTER"; then
    pg_ctlcluster "$PG_VERSION" "$STANDBY_CLUSTER" start >&2 || true
  fi
  if ! { online "$STANDBY_CLUSTER" && wait_for 20 "standby streaming" streaming; }; then
    build_standby
    wait_for 60 "standby streaming" streaming
  fi
fi
mkdir -p "$(dirname "$ARCHIVE_FAIL_FLAG")"; rm -f "$ARCHIVE_FAIL_FLAG"
echo "export PG_STANDBY_URL=postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$STANDBY_PORT/$PG_DB PG_STANDBY_ARCHIVE_FAIL=$ARCHIVE_FAIL_FLAG"
