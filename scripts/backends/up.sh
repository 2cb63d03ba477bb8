#!/usr/bin/env bash
# up.sh — bring up every local test backend on loopback and write their endpoints to .backends/env.
#
#   bash scripts/backends/up.sh            # all: postgres redis docker aws k8s (+ redis cluster)
#   SERVICES="postgres redis" bash scripts/backends/up.sh
#
# Needs root on Debian 12 (it apt-installs the servers); CI runs it through `make test`. The Kubernetes
# API server is built once per machine from Debian's source package (~5 min, cached in
# /var/cache/mcp-backends/kube-bin). Idempotent: services already answering are left alone.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="${BACKENDS_ENV:-$ROOT/.backends/env}"
SERVICES="${SERVICES:-postgres redis docker aws k8s}"
export PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
export KUBE_BIN_DIR="${KUBE_BIN_DIR:-/var/cache/mcp-backends/kube-bin}"
mkdir -p "$(dirname "$OUT")"
# the probes below need curl and openssl; a minimal Debian image may lack them
if ! command -v curl >/dev/null || ! command -v openssl >/dev/null; then
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    curl openssl ca-certificates >&2
fi
case " $SERVICES " in
  *" k8s "*) nice -n 10 bash "$HERE/build-kube-apiserver.sh" "$KUBE_BIN_DIR" >&2 ;;
esac
tmp="$(mktemp)"
SERVICES="$SERVICES" K8S_MODE="${K8S_MODE:-apiserver}" bash "$HERE/start-services.sh" > "$tmp"
case " $SERVICES " in
  *" redis "*) if [ -f "$HERE/redis-cluster.sh" ]; then bash "$HERE/redis-cluster.sh" >> "$tmp"; fi ;;
esac
case " $SERVICES " in  # a streaming standby of the test PostgreSQL, for the replication checks
  *" postgres "*) bash "$HERE/pg-standby.sh" >> "$tmp" ;;
esac
echo "export MCP_REQUIRE_BACKENDS=1" >> "$tmp"
mv "$tmp" "$OUT"
echo "[up] endpoints written to $OUT" >&2
