# Entry points of the authority portal. `make run` and `make test` work from a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# The portal's own address: passkeys and signed payloads name it, so it follows PORT.
PORTAL_AUDIENCE ?= http://localhost:$(PORT)

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

# The virtual environment, with the pinned dependencies (runtime and dev) from the lock file.
$(STAMP): requirements-dev.lock
	@python=$$(scripts/find-python) || exit 1; \
	  echo "Using $$python ($$($$python -c 'import platform; print(platform.python_version())'))"; \
	  [ -x $(PY) ] || $$python -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	@touch $(STAMP)

venv: $(STAMP)  ## create .venv and install the locked dependencies

run: $(STAMP)  ## start the portal on embedded defaults with demo data (http://localhost:8000)
	@mkdir -p var
	$(PY) manage.py migrate --no-input -v 0
	PORTAL_AUDIENCE=$(PORTAL_AUDIENCE) $(PY) manage.py seed_demo
	$(PY) manage.py audit_sequence
	PORTAL_AUDIENCE=$(PORTAL_AUDIENCE) $(PY) manage.py runserver $(HOST):$(PORT)

test: $(STAMP)  ## run the whole test suite
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff, mypy, the layer contracts, no import circle, complete catalogs
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy portal accounts requests_app project scripts bench
	$(VENV)/bin/lint-imports --no-cache
	$(PY) scripts/import_cycles.py
	$(PY) scripts/check_catalogs.py

# The translation catalogs under locale/ (both domains: templates and Python, and the
# browser sources), with the options scripts/check_catalogs.py checks them against. A new
# language needs its directory first: `$(PY) manage.py makemessages --locale=xx`.
messages: $(STAMP)  ## regenerate locale/*/LC_MESSAGES/*.po (then translate the new entries)
	$(PY) scripts/check_catalogs.py --regenerate

# Known vulnerabilities in the pinned dependencies (requirements.lock with pip-audit against
# PyPI; package-lock.json with npm audit) fail; so, under REQUIRE_SERVICES=1 (CI), does a
# database that cannot be reached. scripts/dependency_audit.py says what it could not check.
audit: $(STAMP)  ## audit the pinned Python and npm dependencies for known vulnerabilities
	$(PY) scripts/dependency_audit.py

format: $(STAMP)  ## apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Every benchmark under bench/, one after the other (each writes its section of
# bench/RESULTS.md and names its baseline first). `make bench QUICK=1` shortens the long
# ones (fewer rounds, smaller tables, shorter loads): a smoke run, not figures to publish.
ifdef QUICK
BENCH_INTAKE := --rounds 1 --seconds 5 --requests 150 --warmup 20 --step-requests 40
BENCH_QUEUE := --sizes 1000,10000,100000 --requests 30 --warmup 5 --rounds 2
BENCH_SEAL := --size 128MiB --rounds 1
BENCH_LOAD := --seconds 20
BENCH_FAULTS := --seconds 20 --fault-at 5 --outage 5
BENCH_TRANSPARENCY := --rows 100000 --rejections 30000 --rounds 2
BENCH_AUDIT := --rounds 1 --seconds 2 --events 2000 --sequencer-rounds 1
BENCH_I18N := --rounds 2 --requests 5 --warmup 2
endif
bench: $(STAMP)  ## run every benchmark (slow, by hand; QUICK=1 for a short run; see bench/README.md)
	$(PY) bench/intake.py $(BENCH_INTAKE)
	$(PY) bench/review_queue.py $(BENCH_QUEUE)
	$(PY) bench/seal.py $(BENCH_SEAL)
	$(PY) bench/load.py $(BENCH_LOAD)
	$(PY) bench/faults.py $(BENCH_FAULTS)
	$(PY) bench/transparency.py $(BENCH_TRANSPARENCY)
	$(PY) bench/audit.py $(BENCH_AUDIT)
	$(PY) bench/i18n.py $(BENCH_I18N)

# The browser bundle: esbuild, pinned in package-lock.json; minified, no source map, no
# timestamps or absolute paths (the libraries' license comments are kept at the end), so
# the same sources give the same bytes. static/dist/ is committed; CI rebuilds it and
# fails if it differs. npm's install scripts are not needed and not run.
ESBUILD_FLAGS := --bundle --format=esm --platform=browser --target=es2022 --minify \
	--legal-comments=eof --charset=utf8 --log-level=warning

assets:  ## rebuild static/dist/ from frontend/ (needs Node 20+ and npm)
	npm ci --ignore-scripts --no-audit --no-fund
	node_modules/.bin/esbuild frontend/age-keygen.js $(ESBUILD_FLAGS) --outfile=static/dist/age-keygen.js
	node_modules/.bin/esbuild frontend/submit.js $(ESBUILD_FLAGS) --outfile=static/dist/submit.js
	node_modules/.bin/esbuild frontend/reply.js $(ESBUILD_FLAGS) --outfile=static/dist/reply.js
	node_modules/.bin/esbuild frontend/decrypt.js $(ESBUILD_FLAGS) --outfile=static/dist/decrypt.js
	node_modules/.bin/esbuild frontend/document-viewer.js $(ESBUILD_FLAGS) --outfile=static/dist/document-viewer.js
	node_modules/.bin/esbuild node_modules/pdfjs-dist/build/pdf.worker.mjs $(ESBUILD_FLAGS) --outfile=static/dist/pdf.worker.js

lock:  ## re-resolve requirements*.lock from pyproject.toml (needs uv)
	uv pip compile pyproject.toml --universal --python-version 3.12 --generate-hashes -o requirements.lock
	uv pip compile pyproject.toml --extra dev --universal --python-version 3.12 --generate-hashes -o requirements-dev.lock

clean:  ## remove the virtual environment and local state (database, sealed files)
	rm -rf $(VENV) var

.PHONY: help venv run test lint messages audit format bench assets lock clean
