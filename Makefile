# One command each: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
GRAPH ?=
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

# `make run GRAPH=path/to/langgraph.json` (or GRAPH=package.module:attr) serves your own.
run: install
	$(BIN)/python -m app serve $(GRAPH) --host $(HOST) --port $(PORT)

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

# The same for @langchain/react's useStream, which speaks LangGraph's thread protocol.
JS_PAGE_V2 := $(JS_DIR)/usestream-v2/dist/index.html
$(JS_PAGE_V2): $(JS_STAMP) $(JS_DIR)/usestream-v2/index.html $(JS_DIR)/usestream-v2/vite.config.js $(wildcard $(JS_DIR)/usestream-v2/src/*)
	cd $(JS_DIR) && npx vite build usestream-v2

# And a page on the AI SDK's useChat, which speaks its UI message stream to /ai-sdk/chat.
JS_PAGE_CHAT := $(JS_DIR)/usechat/dist/index.html
$(JS_PAGE_CHAT): $(JS_STAMP) $(JS_DIR)/usechat/index.html $(JS_DIR)/usechat/vite.config.js $(wildcard $(JS_DIR)/usechat/src/*)
	cd $(JS_DIR) && npx vite build usechat

# And a page rendering a graph's generative UI (useStream, LoadExternalComponent).
JS_PAGE_UI := $(JS_DIR)/usestream-ui/dist/index.html
$(JS_PAGE_UI): $(JS_STAMP) $(JS_DIR)/usestream-ui/index.html $(JS_DIR)/usestream-ui/vite.config.js $(wildcard $(JS_DIR)/usestream-ui/src/*)
	cd $(JS_DIR) && npx vite build usestream-ui

js: $(JS_PAGE) $(JS_PAGE_V2) $(JS_PAGE_CHAT) $(JS_PAGE_UI)

test: install system-deps js
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The dependency floors in pyproject.toml, tested: a second venv resolved to the lowest versions
# its direct dependencies allow (uv's lowest-direct) runs a fast subset of the suite: the run
# and stream contract, resume, threads and checkpointers, LangGraph's Python SDK, hostile
# clients, a shutdown with streams open, a Redis cluster, state objects, graph factories and
# cron schedules and the MCP endpoint (read by the mcp package's own client).
LOWEST_VENV := .venv-lowest
LOWEST_BIN := $(LOWEST_VENV)/bin
LOWEST_TESTS := tests/test_api.py tests/test_wire.py tests/test_runs.py tests/test_resume.py \
  tests/test_threads.py tests/test_checkpointers.py tests/test_langgraph_sdk.py \
  tests/test_hostile.py tests/test_cluster.py tests/test_state_objects.py tests/test_graph_loading.py \
  tests/test_cron_schedule.py tests/test_langgraph_mcp.py
# The names of the direct dependencies (and test-core's), as one pattern for grep.
DIRECT_DEPS = $(shell $(PYTHON) -c 'import re, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("|".join(re.match(r"[A-Za-z0-9._-]+", d)[0] for d in p["dependencies"] + p["optional-dependencies"]["test-core"]))')

test-lowest: system-deps
	rm -rf $(LOWEST_VENV)
	$(PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_BIN)/python -m pip install --quiet uv
	$(LOWEST_BIN)/uv pip install --quiet --python $(LOWEST_BIN)/python --resolution lowest-direct \
	  -e '.[test-core]'
	@echo "lowest versions of the direct dependencies:"
	@$(LOWEST_BIN)/uv pip freeze --quiet --python $(LOWEST_BIN)/python | \
	  grep -iE '^($(DIRECT_DEPS))==' | sed 's/^/  /'
	$(LOWEST_BIN)/python -m pytest $(LOWEST_TESTS) $(PYTEST_ARGS)

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
bench: install-bench system-deps js
	$(BIN)/python -m bench $(if $(QUICK),--quick) --out bench-results

clean:
	rm -rf $(VENV) $(LOWEST_VENV) .pytest_cache .ruff_cache test-results *.egg-info \
	  $(JS_DIR)/node_modules $(JS_DIR)/usestream/dist $(JS_DIR)/usestream-v2/dist \
	  $(JS_DIR)/usechat/dist $(JS_DIR)/usestream-ui/dist .ui-bundles
