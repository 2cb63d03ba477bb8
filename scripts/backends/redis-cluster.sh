#!/usr/bin/env bash
# Idempotently start a 3-primary Redis Cluster on loopback (ports 7000-7002, state under
# /tmp/mcp-backends/redis-cluster) and print ONLY `export REDIS_CLUSTER_URL=...` lines on stdout.
# Diagnostics go to stderr. Usage: eval "$(scripts/backends/redis-cluster.sh)"
set -euo pipefail

BASE=${REDIS_CLUSTER_DIR:-/tmp/mcp-backends/redis-cluster}
PORTS=(7000 7001 7002)
HOST=127.0.0.1

log() { echo "redis-cluster: $*" >&2; }

command -v redis-server >/dev/null || { log "redis-server not installed (apt-get install redis-server)"; exit 1; }
command -v redis-cli >/dev/null || { log "redis-cli not installed"; exit 1; }

mkdir -p "$BASE"
for port in "${PORTS[@]}"; do
  dir="$BASE/$port"
  mkdir -p "$dir"
  if redis-cli -h "$HOST" -p "$port" ping 2>/dev/null | grep -q PONG; then
    continue
  fi
  log "starting node $port"
  redis-server --bind "$HOST" --port "$port" --cluster-enabled yes \
    --cluster-config-file "$dir/nodes.conf" --cluster-node-timeout 5000 \
    --dir "$dir" --save '' --appendonly no --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >&2
done

for port in "${PORTS[@]}"; do
  for _ in $(seq 1 50); do
    redis-cli -h "$HOST" -p "$port" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
done

state=$(redis-cli -h "$HOST" -p "${PORTS[0]}" cluster info 2>/dev/null | tr -d '\r' | awk -F: '/^cluster_state/{print $2}')
known=$(redis-cli -h "$HOST" -p "${PORTS[0]}" cluster info 2>/dev/null | tr -d '\r' | awk -F: '/^cluster_known_nodes/{print $2}')
if [ "$state" != "ok" ] || [ "${known:-0}" -lt "${#PORTS[@]}" ]; then
  slots=$(redis-cli -h "$HOST" -p "${PORTS[0]}" cluster info 2>/dev/null | tr -d '\r' | awk -F: '/^cluster_slots_assigned/{print $2}')
  if [ "${slots:-0}" = "0" ]; then
    log "creating the cluster"
    nodes=()
    for port in "${PORTS[@]}"; do nodes+=("$HOST:$port"); done
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >&2
  fi
  for _ in $(seq 1 100); do
    state=$(redis-cli -h "$HOST" -p "${PORTS[0]}" cluster info | tr -d '\r' | awk -F: '/^cluster_state/{print $2}')
    [ "$state" = "ok" ] && break
    sleep 0.1
  done
  if [ "$state" != "ok" ]; then
    log "cluster state is '$state' (see $BASE/*/redis.log)"
    exit 1
  fi
fi
log "cluster ok on ${PORTS[*]}"
echo "export REDIS_CLUSTER_URL=redis://$HOST:${PORTS[0]}"
