#!/usr/bin/env bash
# build.sh — `make image`: build backend-architect-mcp:<version> and :latest from the Dockerfile.
#
# Works where no registry is reachable from the Docker engine and RUN steps have no network:
#   1. the Dockerfile's base image is pulled, or rebuilt from Debian packages (base.sh);
#   2. the wheels are fetched HERE, with pip, for the image's Python (3.11) and the engine's architecture:
#      dependencies into build/wheels (cached per pyproject.toml in $WHEEL_CACHE), the package into
#      build/dist; the Dockerfile installs from them with --no-index;
#   3. docker build, labelled with the version, source and revision.
# PY: the interpreter whose pip fetches the wheels (default python3).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PY="${PY:-python3}"
IMAGE="${IMAGE:-backend-architect-mcp}"
log() { echo "[image $(date +%T)] $*" >&2; }
t0=$SECONDS
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -1)"
SOURCE="$(sed -n 's/^Repository = "\(.*\)"$/\1/p' pyproject.toml | head -1)"
REVISION="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
BASE="$(sed -n 's/^ARG PYTHON_IMAGE=//p' Dockerfile | head -1)"
bash scripts/image/base.sh "$BASE"
# the base's exact interpreter version: environment markers such as python_full_version < "3.11.3" depend on it
PYVER="$(docker run --rm --network none --entrypoint python3 "$BASE" -c 'import platform; print(platform.python_version())')"

case "$(docker version -f '{{.Server.Arch}}')" in
  amd64|x86_64) ARCH=x86_64 ;;
  arm64|aarch64) ARCH=aarch64 ;;
  *) log "unsupported engine architecture"; exit 1 ;;
esac
WHEELS="$ROOT/build/wheels"   # dependencies (a Docker layer of their own)
DIST="$ROOT/build/dist"       # the package's own wheel
WHEEL_CACHE="${WHEEL_CACHE:-/var/cache/mcp-backends/image-wheels}"
rm -rf "$DIST"; mkdir -p "$DIST"
"$PY" -m pip wheel -q --no-deps --wheel-dir "$DIST" . 2>&1 | grep -v "is ignored" >&2 || true
ls "$DIST"/backend_architect_mcp-*.whl >/dev/null
# binary wheels only, for the image's interpreter (not this one): no compiler needed in the image.
# pip does not widen an explicit --platform to older glibc tags, so name every one bookworm (glibc 2.36) runs.
PLATFORMS=(); for g in 5 12 17 24 27 28 31 34 35 36; do PLATFORMS+=(--platform "manylinux_2_${g}_$ARCH"); done
for legacy in manylinux2014 manylinux2010 manylinux1; do PLATFORMS+=(--platform "${legacy}_$ARCH"); done
download() {
  "$PY" -m pip download -q --dest "$WHEELS" --only-binary=:all: --python-version "$PYVER" --implementation cp \
    "${PLATFORMS[@]}" "$@" 2>&1 | grep -v "is ignored" >&2 || true
}
# pip evaluates environment markers (python_full_version < "3.11.3", ...) for THIS interpreter, not the image's:
# let the image's own pip resolve against the wheelhouse (no network) and fetch what it still lacks.
missing_in_image() {
  local cid
  cid=$(docker create --network none --entrypoint sh "$BASE" -c 'python3 -m venv /tmp/v >/dev/null &&
    /tmp/v/bin/pip install -q --dry-run --no-index --find-links /w /d/backend_architect_mcp-*.whl 2>&1 >/dev/null; true')
  docker cp "$WHEELS" "$cid:/w" >/dev/null
  docker cp "$DIST" "$cid:/d" >/dev/null
  docker start -a "$cid" | sed -n 's/.*No matching distribution found for \([^;]*\).*/\1/p'
  docker rm "$cid" >/dev/null
}
# the dependency wheels are reused while the declared dependencies, the image's Python and the architecture stay
# the same (the key lives outside build/wheels, so the image's dependency layer depends on the wheels alone)
DEPS="$("$PY" -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print(p["dependencies"])')"
KEY="$(echo "$DEPS $PYVER $ARCH" | sha256sum | cut -c1-16)"
if [ -d "$WHEELS" ] && [ "$(cat "$WHEELS.key" 2>/dev/null)" = "$KEY" ]; then
  log "dependency wheels up to date in build/wheels"
elif [ -d "$WHEEL_CACHE/$KEY" ]; then
  rm -rf "$WHEELS"; cp -r "$WHEEL_CACHE/$KEY" "$WHEELS"; echo "$KEY" > "$WHEELS.key"
  log "dependency wheels from $WHEEL_CACHE/$KEY"
else
  rm -rf "$WHEELS" "$WHEELS.key"; mkdir -p "$WHEELS"
  log "fetching wheels for CPython $PYVER / manylinux $ARCH into build/wheels"
  download "$DIST"/backend_architect_mcp-*.whl
  rm -f "$WHEELS"/backend_architect_mcp-*.whl
  for _ in 1 2 3 4 5; do
    missing="$(missing_in_image)"
    [ -z "$missing" ] && break
    log "the image's Python $PYVER also needs: $missing"
    # shellcheck disable=SC2086
    download $missing
  done
  [ -z "$missing" ] || { log "could not complete the wheelhouse: $missing"; exit 1; }
  echo "$KEY" > "$WHEELS.key"
  if mkdir -p "$WHEEL_CACHE" 2>/dev/null && [ -w "$WHEEL_CACHE" ]; then
    rm -rf "$WHEEL_CACHE/$KEY.tmp"; cp -r "$WHEELS" "$WHEEL_CACHE/$KEY.tmp"
    rm -rf "$WHEEL_CACHE/$KEY"; mv "$WHEEL_CACHE/$KEY.tmp" "$WHEEL_CACHE/$KEY"
  fi
fi
log "$(ls "$WHEELS" | wc -l) dependency wheels ($(du -sh "$WHEELS" | cut -f1)) in $((SECONDS - t0))s"

t1=$SECONDS
docker build -q \
  --build-arg "PYTHON_IMAGE=$BASE" --build-arg "VERSION=$VERSION" --build-arg "SOURCE=$SOURCE" \
  --build-arg "REVISION=$REVISION" -t "$IMAGE:$VERSION" -t "$IMAGE:latest" . >/dev/null
size=$(docker image inspect -f '{{.Size}}' "$IMAGE:$VERSION")
log "built $IMAGE:$VERSION and :latest in $((SECONDS - t1))s (total $((SECONDS - t0))s), $((size / 1000000)) MB"
