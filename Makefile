# Tell-It-Once Hub. `make demo` runs the scenario on the embedded stack; `make test` runs the
# lint (ruff, mypy, import contracts: what CI checks too) and then every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test up lint bench install clean screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/hub demo

up: $(STAMP)
	$(BIN)/hub up

test: lint
	bash scripts/ensure-test-packages.sh
	$(BIN)/hub config schemas
	$(BIN)/pytest -q -p no:cacheprovider -n 3  # 3 processes: most tests wait on brokers and stacks

lint: $(STAMP)
	$(BIN)/ruff check hub agents connectors runtime cli bench tests
	$(BIN)/ruff format --check hub agents connectors runtime cli bench tests
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/hub bench codec
	$(BIN)/hub bench policy
	$(BIN)/hub bench flow
	$(BIN)/hub bench audit --rows 1000000
	$(BIN)/hub bench import --rows 100000
	$(BIN)/hub bench webhooks

# Every IG workbench page at 1280 and 320 px (PNG files in screenshots/, not committed).
screenshots: $(STAMP)
	SCREENSHOTS_DIR=$(CURDIR)/screenshots $(BIN)/pytest -q -p no:cacheprovider -n 0 tests/browser/test_workbench_browser.py

clean:
	rm -rf $(VENV) .hub-data
