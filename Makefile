# Developer and CI entry points. `make test` is what CI runs (through .ci/run).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
APPLIANCE_CONFIG ?= config/appliance.dev.toml
PYTEST_ARGS ?=
# pytest-xdist workers. Most tests wait on servers, browsers and databases rather than compute,
# so more workers than cores pays; tests that change the machine share one (tests/conftest.py).
TEST_WORKERS ?= 3
LINT_PATHS := appliance tests bench tools ansible

.PHONY: system-run system-test venv web test test-web test-dates lint run bench clean

## system-run, system-test: the Debian packages `make run` or `make test` needs, installed as
## root when missing (tools/system_packages.sh)
system-run:
	@PYTHON='$(PYTHON)' tools/system_packages.sh run

system-test:
	@PYTHON='$(PYTHON)' tools/system_packages.sh test

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

## node_modules: the browser code's npm dependencies, exactly as package-lock.json pins them
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

## web: bundle the browser clients into appliance/web/static (shipped in the wheel, never committed)
web: node_modules/.installed
	npm run --silent build

## wheel: the installable wheel in dist/, with the browser bundles built first (they ship in it)
wheel: venv web
	$(BIN)/python -m pip wheel --no-deps -q -w dist .

## lint: static checks (Python with ruff, browser code with tsc --checkJs)
lint: venv node_modules/.installed
	$(BIN)/ruff check $(LINT_PATHS)
	npm run --silent typecheck

## test-web: the browser code's own tests in Node's test runner
test-web: node_modules/.installed
	npm test --silent

## test: lint, then the test suite (extra pytest arguments: make test PYTEST_ARGS='-k consent -x')
test: system-test venv lint web test-web
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

## test-dates: the tests that read the real clock, at four other dates under faketime
## (400 days ahead, both DST changes of next year, new year's eve); see tests/run_at_dates.py
test-dates: system-test venv web
	$(BIN)/python tests/run_at_dates.py $(PYTEST_ARGS)

## run: apply migrations, then serve with $(APPLIANCE_CONFIG)
run: system-run venv web
	APPLIANCE_CONFIG='$(APPLIANCE_CONFIG)' $(BIN)/appliance migrate
	APPLIANCE_CONFIG='$(APPLIANCE_CONFIG)' $(BIN)/appliance serve

## bench: every benchmark in bench/, each alternating the appliance and its baseline (slow; see bench/README.md)
bench: venv web
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/health.py --duration 10 --rounds 6
	$(BIN)/python bench/submit.py
	$(BIN)/python bench/audit_export.py --rows 100000 1000000
	$(BIN)/python bench/analytics.py
	$(BIN)/python bench/plans.py
	$(BIN)/python bench/upload.py
	$(BIN)/python bench/upload.py --megabytes 10
	$(BIN)/python bench/upload.py --megabytes 100 --rounds 2
	$(BIN)/python bench/patient_page.py
	node bench/crypto.mjs

## clean: remove the venv, build artefacts, caches and ./var
clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache var node_modules appliance/web/static
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
