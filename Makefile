# Two entry points: `make acceptance` (the suite + report) and `make test` (everything CI runs).
# Both set themselves up: a virtualenv in .venv (Python 3.11) and node_modules (Allure 3).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
WIRE_STAMP := wire/pb/.built
PROTOS := $(wildcard proto/*/*.proto)
# Python's bytecode cache stays on (also where the machine turns it off): every worker, test and
# emulated process would otherwise compile the project's modules again at each start.
unexport PYTHONDONTWRITEBYTECODE
# Extra behave arguments, e.g. make acceptance BEHAVE_ARGS='-t @critical -D timeout_multiplier=2'
BEHAVE_ARGS ?=
# Worker processes (default: every core) and an optional SHARD=K/N for splitting across machines.
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
SHARD ?=
RUN_ARGS = --jobs $(JOBS) $(if $(SHARD),--shard $(SHARD))
# pytest workers (pytest-xdist): most tests wait on processes and timeouts, so two per core pay.
PYTEST_JOBS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) * 2 )))
# The CI workflow's linter (the dev extras bundle it on Linux; elsewhere point it at an actionlint).
ACTIONLINT ?= $(VENV)/bin/actionlint
# The browser that checks the HTML report (Debian's chromium, installed through apt when missing).
CHROMIUM ?= chromium
export CHROMIUM

.PHONY: acceptance test pytest lint install browser report report-check steps clean

acceptance: $(WIRE_STAMP) $(NODE_STAMP)
	$(PY) -m support.acceptance $(RUN_ARGS) $(BEHAVE_ARGS)

# The acceptance run goes last so that its counted line ends the output; its report is then
# opened in headless Chromium and checked against the results.
test: lint pytest $(WIRE_STAMP) $(NODE_STAMP) browser
	$(PY) -m support.acceptance --check-report $(RUN_ARGS) $(BEHAVE_ARGS)

pytest: $(WIRE_STAMP) $(NODE_STAMP) browser
	$(PY) -m pytest -n $(PYTEST_JOBS)

# Check an existing report (from `make acceptance`) in headless Chromium; a screenshot of its
# first failed scenario's page goes to reports/failed-scenario.png.
report-check: $(PY_STAMP) browser
	$(PY) -m support.report_browser --screenshot-failed reports/failed-scenario.png

# The HTML report from an existing allure-results/ (e.g. CI shards' results downloaded into it,
# one sub-folder per shard: they are merged first), with the history in allure-history/.
report: $(PY_STAMP) $(NODE_STAMP)
	$(PY) -m support.report_build

lint: $(WIRE_STAMP) $(NODE_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache --no-logo
	$(VENV)/bin/mypy
	node_modules/.bin/gherkin-lint -c .gherkin-lintrc features
	$(ACTIONLINT) -shellcheck= -pyflakes= .github/workflows/*.yml
	$(PY) -m support.step_gates

# The step catalog: every step by domain, with its docstring (FIND='upload node': only the
# steps whose text or docstring holds all these words).
steps: $(WIRE_STAMP)
	@$(PY) -m support.step_catalog $(FIND)

install: $(WIRE_STAMP) $(NODE_STAMP)

$(PY_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (set PYTHON=/path/to/python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# gRPC stubs for proto/, generated into wire/pb/ (git-ignored) with the pinned grpcio-tools.
$(WIRE_STAMP): $(PY_STAMP) $(PROTOS) wire/build_protos.py
	$(PY) -m wire.build_protos
	touch $@

browser:
	@command -v $(CHROMIUM) >/dev/null 2>&1 || { \
	  command -v apt-get >/dev/null 2>&1 || { echo "Chromium ($(CHROMIUM)) is missing: install it, or set CHROMIUM=/path/to/chromium" >&2; exit 1; }; \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "installing Debian's chromium for the report's browser check"; \
	  $$sudo apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf $(VENV) node_modules allure-results allure-report reports artifacts wire/pb
