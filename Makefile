# fundapp: the two commands are `make run` and `make test`; the rest serve them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=
SERVE_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/fundapp
SERVE_PORT ?= 8000
SERVE_STRIPE_PORT ?= 8420
# Where `make serve`'s processes keep their metrics (prometheus_client's multiprocess mode): emptied at each start.
SERVE_METRICS_DIR := instance/serve-metrics
# What every `make serve` process reads: the database, the local Stripe server and where the app answers.
SERVE_ENV := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" FUNDAPP_ENV=development LOG_FORMAT=json \
	DATABASE_URL='$(SERVE_DATABASE_URL)' BASE_URL=http://127.0.0.1:$(SERVE_PORT) \
	STRIPE_API_BASE=http://127.0.0.1:$(SERVE_STRIPE_PORT) SERVE_PORT=$(SERVE_PORT) SERVE_STRIPE_PORT=$(SERVE_STRIPE_PORT)
MO := fundapp/translations/es/LC_MESSAGES/messages.mo
AXE := node_modules/axe-core/axe.min.js

.PHONY: run serve test lint lock test-sqlite test-postgres bench translations extract-messages chromium fonts clean

## make run: install, migrate the SQLite default, set up the fund (fund init), seed the demo once, serve http://127.0.0.1:5000
## in local mode (a local Stripe server in the same process; test cards only, no real money)
run: $(VENV)/.dev $(MO) fonts
	$(FLASK) db upgrade
	$(FLASK) fund init
	$(FLASK) fund seed-demo --if-empty
	$(FLASK) fund run-local --port 5000

## make serve: the production shape on one machine: PostgreSQL (SERVE_DATABASE_URL, created if missing, migrated,
## `fund init`, the demo seeded once), gunicorn, a worker and the local Stripe server as processes of their own under
## honcho (Procfile.serve), JSON logs, their metrics at http://127.0.0.1:$(SERVE_PORT)/metrics (counted in
## $(SERVE_METRICS_DIR), emptied first); http://127.0.0.1:$(SERVE_PORT). Ctrl-C stops everything.
serve: $(VENV)/.dev $(MO) fonts
	@$(SERVE_ENV) $(FLASK) fund create-database
	@$(SERVE_ENV) $(FLASK) db upgrade
	@$(SERVE_ENV) $(FLASK) fund init
	@$(SERVE_ENV) LOG_FORMAT=text $(FLASK) fund seed-demo --if-empty
	@echo "fundapp (gunicorn, a worker, the local Stripe server in TEST MODE) at http://127.0.0.1:$(SERVE_PORT)  (Ctrl-C stops everything)"
	@rm -rf $(SERVE_METRICS_DIR) && mkdir -p $(SERVE_METRICS_DIR)
	@$(SERVE_ENV) PROMETHEUS_MULTIPROC_DIR='$(CURDIR)/$(SERVE_METRICS_DIR)' \
		exec $(VENV)/bin/honcho --no-prefix -f Procfile.serve start

## make test: the whole suite on SQLite, then on PostgreSQL at 127.0.0.1:5432 when it is reachable
## (REQUIRE_POSTGRES=1 makes an unreachable PostgreSQL a failure, as CI does)
## (ruff and mypy first: a lint finding fails make test before the suite runs)
test: lint test-sqlite test-postgres

## make lint: ruff (rules F, I, B, UP; pyproject.toml) and mypy (strict on money, ledger, payments; pyproject.toml)
lint: $(VENV)/.dev
	@echo "== ruff =="
	$(VENV)/bin/ruff check fundapp tests reports benchmarks migrations wsgi.py
	@echo "== mypy =="
	$(PY) -m mypy
	@echo "== import-linter (the layers of docs/ARCHITECTURE.md) =="
	$(VENV)/bin/lint-imports --no-cache

## make lock: regenerate requirements.txt and requirements-dev.txt (every transitive dependency pinned and hashed)
## from requirements.in and requirements-dev.in; versions already locked stay unless an .in file moves them
lock: $(VENV)/.dev
	$(VENV)/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
		-o requirements.txt requirements.in
	$(VENV)/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
		-o requirements-dev.txt requirements-dev.in

test-sqlite: $(VENV)/.dev $(MO) $(AXE) chromium fonts
	@echo "== test suite on SQLite =="
	$(PY) -m pytest $(PYTEST_ARGS)

test-postgres: $(VENV)/.dev $(MO) $(AXE) chromium fonts
	@if $(PY) -c "import psycopg; psycopg.connect('$(PG_TEST_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		echo "== test suite on PostgreSQL ($(PG_TEST_URL)) =="; \
		FUNDAPP_TEST_DATABASE_URL='$(PG_TEST_URL)' $(PY) -m pytest $(PYTEST_ARGS); \
	elif [ "$(REQUIRE_POSTGRES)" = "1" ]; then \
		echo "PostgreSQL is required but not reachable at $(PG_TEST_URL)" >&2; exit 1; \
	else \
		echo "PostgreSQL not reachable at $(PG_TEST_URL): the PostgreSQL run was not done"; \
	fi

## make bench: every performance figure beside its ceiling, measured in this run (about 20 minutes;
## needs PostgreSQL at 127.0.0.1:5432 and wrk, which it installs when run as root)
bench: $(VENV)/.dev $(MO)
	@command -v wrk >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then apt-get install -y -q wrk; \
		else echo "The page benchmarks need wrk: sudo apt-get install wrk" >&2; fi; }
	PG_TEST_URL='$(PG_TEST_URL)' $(PY) benchmarks/bench.py

# The locks pin every package with its hashes: pip checks each download against them (--require-hashes) and installs
# nothing unlisted. requirements-dev.txt is the runtime lock plus the tools, so it alone sets up a development venv.
$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

# Browser tests use Debian's Chromium (Playwright never downloads a browser here) and axe-core from npm.
chromium:
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
		else echo "The browser tests need Chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

# Every PDF embeds DejaVu Sans Condensed, and Droid Sans Fallback for Chinese, Japanese and Korean (reports/fonts.py).
FONT_FILES := /usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf
fonts:
	@for f in $(FONT_FILES); do test -f $$f && continue; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q fonts-dejavu-extra fonts-droid-fallback && break; \
		else echo "The PDFs need $$f: sudo apt-get install fonts-dejavu-extra fonts-droid-fallback" >&2; exit 1; fi; done

$(AXE): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

translations: $(MO)

$(MO): fundapp/translations/es/LC_MESSAGES/messages.po $(VENV)/.runtime
	$(VENV)/bin/pybabel compile -d fundapp/translations

## make extract-messages: refresh the catalogue after adding strings, then translate the new ones in messages.po
extract-messages: $(VENV)/.runtime
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--project fundapp -o fundapp/translations/messages.pot .
	$(VENV)/bin/pybabel update -i fundapp/translations/messages.pot -d fundapp/translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) .pytest_cache $(MO) node_modules
