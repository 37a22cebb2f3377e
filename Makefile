# Tell-It-Once Hub. `make demo` runs the scenario on the embedded stack; `make test` runs the
# lint (ruff, mypy, import contracts: what CI checks too) and then every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# One stamp per install: `make demo` installs the runtime only, `make test` the dev extras too.
# Each re-installs when pyproject.toml or its lock file changes. The locks pin every package to
# the version the tests passed with (`make lock` regenerates them; the runtime pins are the dev
# lock's, so the two installs agree and either may come first).
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev
LOCK_FLAGS := --quiet --strip-extras --no-emit-index-url --no-emit-find-links

.PHONY: demo test up lint bench install lock docs clean screenshots

# uv installs the locked packages in parallel (pip took minutes of a 2-core CI run); it compiles
# the bytecode at install time, since the tests start many Python processes.
INSTALL := $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==0.13.8

$(RUNTIME): pyproject.toml requirements.lock | $(BIN)/python
	$(INSTALL) -c requirements.lock -e .
	touch $(RUNTIME)

# The dev lock holds the runtime lock's pins (a unit test checks it): the runtime is installed too.
$(DEV): pyproject.toml requirements.lock requirements-dev.lock | $(BIN)/python
	$(INSTALL) -c requirements-dev.lock -e '.[dev]'
	touch $(DEV) $(RUNTIME)

install: $(DEV)

# After editing the dependencies in pyproject.toml: the dev lock first (keeping every pin that
# still fits), then the runtime lock seeded from it, so both pin the same versions.
lock: $(DEV)
	$(BIN)/pip-compile $(LOCK_FLAGS) --extra dev -o requirements-dev.lock pyproject.toml
	cp requirements-dev.lock requirements.lock
	$(BIN)/pip-compile $(LOCK_FLAGS) -o requirements.lock pyproject.toml

# docs/configuration.md is generated from HubSettings (a unit test fails when it is stale).
docs: $(RUNTIME)
	$(BIN)/python -m hub.settings_doc > docs/configuration.md

demo: $(RUNTIME)
	$(BIN)/hub demo

up: $(RUNTIME)
	$(BIN)/hub up

# 3 processes: most tests wait on brokers and stacks. worksteal: a process that runs out of tests
# takes half of another's queue (with the default `load`, in a 905 s run the processes ran out
# of tests at 455 s, 711 s and 905 s; with worksteal all three ended within 9 s, at 740 s).
# PYTHONDONTWRITEBYTECODE emptied: the tests start hundreds of Python processes (stacks, workers,
# CLI commands); with it set (as it is on this project's machines) each compiled the hub's own
# modules again, about 0.2 s of CPU for a worker or an API process (35 of 930 CPU-s a run).
test: lint
	bash scripts/ensure-test-packages.sh
	$(BIN)/hub config schemas
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -q -p no:cacheprovider -n 3 --dist worksteal --durations=25

lint: $(DEV)
	$(BIN)/ruff check hub agents connectors runtime cli bench tests
	$(BIN)/ruff format --check hub agents connectors runtime cli bench tests
	$(BIN)/mypy
	$(BIN)/lint-imports

# Every benchmark, each beside its baseline from the same run (docs/performance.md). The
# scale-out run needs PostgreSQL's server (a throw-away one is started, as for the tests).
bench: $(RUNTIME)
	bash scripts/ensure-test-packages.sh
	$(BIN)/hub bench codec
	$(BIN)/hub bench policy
	$(BIN)/hub bench flow
	HUB_WORKERS=2 $(BIN)/hub bench flow --rate 0
	$(BIN)/hub bench flow --workers 1,2 --recipients 5 --events 20000
	$(BIN)/hub bench audit --rows 1000000
	$(BIN)/hub bench import --rows 100000
	$(BIN)/hub bench webhooks
	$(BIN)/hub bench match --people 100000 --events 500
	$(BIN)/hub bench idle

# Every IG workbench page at 1280 and 320 px (PNG files in screenshots/, not committed).
screenshots: $(DEV)
	SCREENSHOTS_DIR=$(CURDIR)/screenshots $(BIN)/pytest -q -p no:cacheprovider -n 0 tests/browser/test_workbench_browser.py

clean:
	rm -rf $(VENV) .hub-data
