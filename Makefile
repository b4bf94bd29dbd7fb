# One command each: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed

# Debian packages the test suite drives for real: a headless browser for the page tests, a
# Redis server for the shared store (each package is named after its command) and PostgreSQL
# for shared checkpoints (its programs live in /usr/lib/postgresql/<version>/bin).
# (Playwright drives Debian's chromium; its own browser download is never used.)
SYSTEM_COMMANDS := chromium redis-server
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install install-bench system-deps js run test test-lowest lint format screenshot bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

install-bench: $(BENCH_STAMP)

run: install
	$(BIN)/python -m app serve --host $(HOST) --port $(PORT)

system-deps:
	@missing=""; for cmd in $(SYSTEM_COMMANDS); do \
	  command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$cmd"; done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# LangGraph's JS client and a React page on its useStream, which the tests drive against the
# gateway: installed from package-lock.json and built once here, never fetched during a test.
JS_DIR := tests/js
JS_STAMP := $(JS_DIR)/node_modules/.installed
JS_PAGE := $(JS_DIR)/usestream/dist/index.html

$(JS_STAMP): $(JS_DIR)/package.json $(JS_DIR)/package-lock.json
	cd $(JS_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(JS_PAGE): $(JS_STAMP) $(JS_DIR)/usestream/index.html $(JS_DIR)/usestream/vite.config.js $(wildcard $(JS_DIR)/usestream/src/*)
	cd $(JS_DIR) && npx vite build usestream

js: $(JS_PAGE)

test: install system-deps js
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The floors in pyproject.toml, proved: a second environment resolved by uv to the lowest
# versions the direct dependencies allow runs the core of the suite (the run/stream contract,
# resume, threads over both checkpointers, LangGraph's Python client, shutdown with streams open).
LOWEST := .venv-lowest
LOWEST_TESTS := tests/test_api.py tests/test_wire.py tests/test_resume.py tests/test_runs.py \
  tests/test_threads.py tests/test_checkpointers.py tests/test_state_objects.py \
  tests/test_graph_loading.py tests/test_langgraph_sdk.py

test-lowest: install system-deps
	$(BIN)/python -m pip install --quiet uv
	rm -rf $(LOWEST)
	$(BIN)/uv venv --quiet --python $(BIN)/python $(LOWEST)
	$(BIN)/uv pip install --quiet --python $(LOWEST)/bin/python --resolution lowest-direct \
	  -e '.[test-core]'
	@echo "lowest versions:"; $(BIN)/uv pip list --python $(LOWEST)/bin/python 2>/dev/null | \
	  grep -Ei '^(fastapi|sse-starlette|starlette|langgraph[-a-z]*|langchain-core|uvicorn|orjson|pydantic[-a-z]*|httpx[-a-z]*|redis|hiredis|psycopg[-a-z]*|prometheus-client|aiosqlite|pytest[-a-z]*) '
	$(LOWEST)/bin/python -m pytest -p no:cacheprovider $(LOWEST_TESTS) $(PYTEST_ARGS)

# Retakes the README's screenshot of the page from a real demo run.
screenshot: install system-deps
	UPDATE_SCREENSHOT=1 $(BIN)/python -m pytest tests/test_page.py -k demo_run -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# All contenders on this machine, same graph, same client: tables, JSON and plots in
# bench-results/. `make bench QUICK=1` runs smaller sizes in about a minute.
bench: install-bench system-deps
	$(BIN)/python -m bench $(if $(QUICK),--quick) --out bench-results

clean:
	rm -rf $(VENV) $(LOWEST) .pytest_cache .ruff_cache test-results *.egg-info \
	  $(JS_DIR)/node_modules $(JS_DIR)/usestream/dist
