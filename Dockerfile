# backend-architect-mcp: the composite MCP server over streamable HTTP (/mcp, /sse, /healthz, /readyz, /metrics).
#
#   make image                      # backend-architect-mcp:<version> and :latest (works without a registry)
#   docker build -t backend-architect-mcp .   # plain build: needs PyPI and Docker Hub
#   docker run --rm -p 127.0.0.1:8000:8000 -e DATABASE_URL=... backend-architect-mcp
#
# Two stages on the same Python base: the first installs the package into /opt/venv (from the wheels
# `make image` prepares in build/wheels and build/dist when they are there, so no network is needed at build
# time; from PyPI otherwise); the second copies only that venv: no compiler, no pip, a non-root user.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# 1. dependencies, from the wheelhouse when there is one (a layer that survives source changes)
COPY pyproject.toml build/wheel[s] /wheels/
RUN set -eu; python3 -m venv /opt/venv; \
    if ls /wheels/*.whl >/dev/null 2>&1; then \
      /opt/venv/bin/pip install --no-cache-dir --no-index --no-deps /wheels/*.whl; \
    fi
# 2. the package: its wheel from `make image` (offline), or built from the sources with PyPI
COPY . /src
RUN set -eu; \
    if ls /src/build/dist/backend_architect_mcp-*.whl >/dev/null 2>&1; then \
      /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /wheels /src/build/dist/backend_architect_mcp-*.whl; \
    else \
      /opt/venv/bin/pip install --no-cache-dir /src; \
    fi; \
    /opt/venv/bin/pip uninstall -q -y pip setuptools wheel 2>/dev/null || true; \
    /opt/venv/bin/backend-architect-mcp --version

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 mcp \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin mcp
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BAM_PORT=8000
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('BAM_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["backend-architect-mcp"]
CMD ["serve", "--transport", "http", "--host", "0.0.0.0"]
# labels last: a new revision does not invalidate the layers above
ARG VERSION=0.0.0
ARG SOURCE=https://github.com/backend-architect-mcp/backend-architect-mcp
ARG REVISION=unknown
LABEL org.opencontainers.image.title="backend-architect-mcp" \
      org.opencontainers.image.description="MCP server bundle for backend engineers: PostgreSQL, Redis, Kubernetes, AWS and Docker tools" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT" \
      io.modelcontextprotocol.server.name="io.github.backend-architect-mcp/backend-architect-mcp"
