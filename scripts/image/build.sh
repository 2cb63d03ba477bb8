#!/usr/bin/env bash
# build.sh — `make image`: build backend-architect-mcp:<version> and :latest from the Dockerfile.
#
# Works where no registry is reachable from the Docker engine and RUN steps have no network:
#   1. the Dockerfile's base image is pulled, or rebuilt from Debian packages (base.sh);
#   2. the wheels are fetched HERE, with pip, for the image's Python (3.11) and the engine's architecture,
#      into build/wheels; the Dockerfile installs from them with --no-index;
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
PYVER="$(echo "$BASE" | sed -n 's/^python:\([0-9]*\.[0-9]*\).*/\1/p')"
bash scripts/image/base.sh "$BASE"

case "$(docker version -f '{{.Server.Arch}}')" in
  amd64|x86_64) ARCH=x86_64 ;;
  arm64|aarch64) ARCH=aarch64 ;;
  *) log "unsupported engine architecture"; exit 1 ;;
esac
WHEELS="$ROOT/build/wheels"
rm -rf "$WHEELS"; mkdir -p "$WHEELS"
log "wheels for CPython $PYVER / manylinux $ARCH into build/wheels"
"$PY" -m pip wheel -q --no-deps --wheel-dir "$WHEELS" . 2>&1 | grep -v "is ignored" >&2 || true
ls "$WHEELS"/backend_architect_mcp-*.whl >/dev/null
# binary wheels only, for the image's interpreter (not this one): no compiler needed in the image.
# pip does not widen an explicit --platform to older glibc tags, so name every one bookworm (glibc 2.36) runs.
PLATFORMS=(); for g in 5 12 17 24 27 28 31 34 35 36; do PLATFORMS+=(--platform "manylinux_2_${g}_$ARCH"); done
for legacy in manylinux2014 manylinux2010 manylinux1; do PLATFORMS+=(--platform "${legacy}_$ARCH"); done
"$PY" -m pip download -q --dest "$WHEELS" --only-binary=:all: --python-version "$PYVER" --implementation cp \
  "${PLATFORMS[@]}" "$WHEELS"/backend_architect_mcp-*.whl 2>&1 | grep -v "is ignored" >&2 || true
log "$(ls "$WHEELS" | wc -l) wheels ($(du -sh "$WHEELS" | cut -f1)) in $((SECONDS - t0))s"

t1=$SECONDS
DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}" docker build -q \
  --build-arg "PYTHON_IMAGE=$BASE" --build-arg "VERSION=$VERSION" --build-arg "SOURCE=$SOURCE" \
  --build-arg "REVISION=$REVISION" -t "$IMAGE:$VERSION" -t "$IMAGE:latest" . >/dev/null
size=$(docker image inspect -f '{{.Size}}' "$IMAGE:$VERSION")
log "built $IMAGE:$VERSION and :latest in $((SECONDS - t1))s (total $((SECONDS - t0))s), $((size / 1000000)) MB"
