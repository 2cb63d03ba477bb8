#!/usr/bin/env bash
# base.sh [IMAGE] — make sure the Dockerfile's base image exists in the Docker engine, even with no registry.
#
#   1. already in the engine: done;
#   2. `docker pull` works: done (the normal case for users);
#   3. otherwise build the same thing from Debian packages: `mmdebstrap` (Debian's archive only) writes a
#      bookworm root filesystem with Python 3.11, cached once per machine in $BASE_CACHE, then `docker import`
#      loads it under the SAME name, so the Dockerfile is the one users build.
# The replica keeps the official image's contract the Dockerfile relies on: `python3` (3.11) with `venv`
# on PATH, CA certificates, `useradd`, a C.UTF-8 locale. Nothing else (no compilers).
set -euo pipefail
IMAGE="${1:-python:3.11-slim-bookworm}"
BASE_CACHE="${BASE_CACHE:-/var/cache/mcp-backends/base-images}"
SUITE="${BASE_SUITE:-bookworm}"
PULL_TIMEOUT="${PULL_TIMEOUT:-60}"
log() { echo "[image-base $(date +%T)] $*" >&2; }

if docker image inspect "$IMAGE" >/dev/null 2>&1; then log "$IMAGE present"; exit 0; fi
if [ "${BASE_NO_PULL:-0}" != 1 ] && timeout "$PULL_TIMEOUT" docker pull -q "$IMAGE" >/dev/null 2>&1; then
  log "pulled $IMAGE"; exit 0
fi
case "$IMAGE" in
  python:3.11-slim*) ;;
  *) log "cannot pull $IMAGE and only python:3.11-slim[-bookworm] can be rebuilt from Debian"; exit 1 ;;
esac
tarball="$BASE_CACHE/${IMAGE//[:\/]/_}.$SUITE.tar"
if [ ! -s "$tarball" ]; then
  if ! command -v mmdebstrap >/dev/null; then
    [ "$(id -u)" = 0 ] || { log "no registry and no mmdebstrap: install mmdebstrap (Debian) or pull $IMAGE"; exit 1; }
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >&2
  fi
  mkdir -p "$BASE_CACHE"
  log "registry unreachable: building $IMAGE from Debian $SUITE packages (mmdebstrap, cached in $BASE_CACHE)"
  t=$SECONDS
  # --variant=minbase: Essential + Priority:required (passwd for useradd) + apt; docs, man pages and apt lists dropped.
  mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    --format=tar "$SUITE" "$tarball.tmp" http://deb.debian.org/debian >&2
  mv "$tarball.tmp" "$tarball"
  log "root filesystem built in $((SECONDS - t))s: $(du -h "$tarball" | cut -f1)"
fi
docker import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c 'ENV LANG=C.UTF-8' \
  -c 'CMD ["python3"]' -m "local replica of $IMAGE from Debian $SUITE packages (mmdebstrap)" \
  "$tarball" "$IMAGE" >/dev/null
log "imported $IMAGE from $tarball"
