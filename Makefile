# backend-architect-mcp — `make help` lists the targets.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
ENV_FILE := .backends/env
# Endpoints of the local backends (written by scripts/backends/up.sh) when the environment has none.
LOAD_ENV := if [ -z "$${DATABASE_URL:-}" ] && [ -f $(ENV_FILE) ]; then source $(ENV_FILE); fi

.PHONY: help install backends run test check fmt lint typecheck bench soak bench-peers snapshots manifest image clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/backend-architect-mcp: pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/backend-architect-mcp ## create .venv and install the package with dev tools

backends: install ## start local PostgreSQL, Redis, Docker, moto and Kubernetes on loopback (root, Debian)
	@if [ -n "$${DATABASE_URL:-}" ]; then echo "backends configured by the environment"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then bash scripts/backends/up.sh; \
	elif docker info >/dev/null 2>&1; then echo "no root/apt: tests start backends with testcontainers"; \
	else echo "need root on Debian (apt) or a Docker engine to provide backends" >&2; exit 1; fi

run: install ## serve the composite on http://127.0.0.1:8000 (/mcp, /sse), starting local backends if none are set
	@if [ -z "$${DATABASE_URL:-}" ] && [ ! -f $(ENV_FILE) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then bash scripts/backends/up.sh; \
	  elif docker compose version >/dev/null 2>&1; then docker compose up -d --wait postgres redis moto && \
	    printf 'export DATABASE_URL=postgresql://postgres:postgres@127.0.0.1:5432/postgres\nexport REDIS_URL=redis://127.0.0.1:6379/0\nexport AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1\n' > $(ENV_FILE); fi; fi
	@$(LOAD_ENV); exec $(BIN)/backend-architect-mcp serve --transport http --host 127.0.0.1 --port $${PORT:-8000} $(ARGS)

test: backends ## run the whole test suite against real backends
	@$(LOAD_ENV); $(BIN)/pytest -q $(PYTEST_ARGS)

check: lint typecheck ## ruff format --check, ruff lint, mypy --strict

lint: install ## ruff format --check and ruff lint
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: install ## mypy --strict
	$(BIN)/mypy

fmt: install ## format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: backends ## run the benchmarks; tables go to bench/results/*.md
	@$(LOAD_ENV); for b in bench/bench_*.py; do m=$$(basename $$b .py); echo "== $$m"; $(BIN)/python -m bench.$$m || exit 1; done

soak: backends ## 64 HTTP clients for 60 s of mixed reads on one server: errors, p99, RSS, fds, pool growth (bench/results/soak.md)
	@$(LOAD_ENV); $(BIN)/python -m bench.soak

bench-peers: backends ## ours vs. peer MCP servers over stdio (installs peers into bench/peers/.venvs); DOMAINS="redis postgres"
	@$(LOAD_ENV); $(BIN)/python -m bench.peers.run $(DOMAINS)

snapshots: backends ## regenerate the tool-list snapshots after an intended change
	@$(LOAD_ENV); BAM_UPDATE_SNAPSHOTS=1 $(BIN)/pytest -q tests/composite/test_snapshot.py

manifest: install ## regenerate servers/_common/tool_manifest.json (the tool definitions served at start-up) after a change under servers/
	$(BIN)/python -c "from servers._common.manifest import main; main()"

image: install ## build the image backend-architect-mcp:<version> and :latest (no registry needed: see scripts/image)
	@PY=$(BIN)/python bash scripts/image/build.sh

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .backends build/wheels
