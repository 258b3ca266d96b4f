# Developer and CI entry points. `make test` is what CI runs (through .ci/run).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
APPLIANCE_CONFIG ?= config/appliance.dev.toml
PYTEST_ARGS ?=
LINT_PATHS := appliance tests bench

.PHONY: venv test lint run clean

## venv: create $(VENV) and install the project with its test extras (again when setup.cfg changes)
venv: $(VENV)/.installed

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "error: $(PYTHON) is older than Python 3.11; run e.g. 'make PYTHON=python3.11 venv'" >&2; \
	  exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/pip install -e '.[test]'
	touch $@

## lint: static checks
lint: venv
	$(BIN)/ruff check $(LINT_PATHS)

## test: lint, then the test suite (extra pytest arguments: make test PYTEST_ARGS='-k consent -x')
test: venv lint
	$(BIN)/pytest -q $(PYTEST_ARGS)

## run: apply migrations, then serve with $(APPLIANCE_CONFIG)
run: venv
	APPLIANCE_CONFIG='$(APPLIANCE_CONFIG)' $(BIN)/appliance migrate
	APPLIANCE_CONFIG='$(APPLIANCE_CONFIG)' $(BIN)/appliance serve

## clean: remove the venv, build artefacts, caches and ./var
clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache var
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
