# The two commands of the README (`make run`, `make test`) and the checks .ci/run adds.
# Everything runs from .venv, which is created when missing and reinstalled only when a file in
# requirements/ is newer than the stamp left by the last successful install.

SHELL := /bin/bash

# Python 3.11 if it is on PATH, any python3 otherwise (checked to be 3.11 or newer below).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv messages run test lint check clean e2e-tools docs docs-check restore-drill mutate

help:
	@echo "make run    create .venv, install, migrate, load demo data, serve on http://$(HOST):$(PORT)/"
	@echo "make test   the whole test suite (extra pytest arguments: PYTEST_ARGS='-k offers -x')"
	@echo "make lint   ruff format --check, ruff check and the import contracts (lint-imports)"
	@echo "make check  Django system checks and a check for missing migrations"
	@echo "make docs   regenerate docs/rules.md, the generated parts of docs/*.md and the state-machine diagrams"
	@echo "make docs-check  fail on a stale generated document, a cited rule not in docs/rules.md, a dangling link"
	@echo "make restore-drill  PostgreSQL backup, restore into a new database, verify_decisions and a lookup"
	@echo "make mutate MODULE=allocation  mutation testing of one rule module (docs/mutation.md); FRESH=1 starts over, SURVIVORS=1 retries the survivors, SAMPLE=4 runs every 4th mutant"
	@echo "make e2e-tools  install Debian chromium and axe-core for the browser tests, and wrk for the load test (root)"
	@echo "make clean  remove .venv, the SQLite database and collected static files"

$(STAMP): $(wildcard requirements/*.txt)
	@test -n "$(PYTHON)" || { echo "Python 3.11 was not found on PATH; pass PYTHON=/path/to/python3.11" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "$(PYTHON) is older than Python 3.11; pass PYTHON=/path/to/python3.11" >&2; exit 1; }
	@# A venv whose interpreter is gone (moved checkout, removed Python) is rebuilt from scratch.
	@test -x $(BIN)/python || $(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check --quiet -r requirements/dev.txt
	@touch $@

venv: $(STAMP)

# Compiled translations, only when there are .po files. gettext is not needed for anything else,
# so a machine without msgfmt still runs (the pages fall back to the untranslated strings).
messages: $(STAMP)
	@if ! find . -path ./$(VENV) -prune -o -path '*/locale/*' -name '*.po' -print | grep -q .; then \
		:; \
	elif ! command -v msgfmt >/dev/null 2>&1; then \
		echo "note: msgfmt (GNU gettext) is not installed; translations not compiled"; \
	else \
		$(BIN)/python manage.py compilemessages --ignore $(VENV) --verbosity 0; \
	fi

# DEBUG is off unless set (R-SEC-1): the local server turns it on explicitly.
run: export DEBUG ?= 1
run: $(STAMP) messages
	$(BIN)/python manage.py migrate --noinput
	@# R-VER-5: on PostgreSQL with DATABASE_OWNER_URL, migrate ran as the owner; the server runs as DATABASE_URL's role.
	@if [ -n "$$DATABASE_OWNER_URL" ]; then $(BIN)/python manage.py db_roles; fi
	$(BIN)/python manage.py seed_demo
	@echo
	@echo "    Serving on http://$(HOST):$(PORT)/  (families)   staff: http://$(HOST):$(PORT)/staff/   API docs: http://$(HOST):$(PORT)/api/docs/   (Ctrl-C stops)"
	@echo
	@# Beside the server, the process that sends the outbox (webhooks, notifications): a delivery
	@# never runs inside a web request (R-SEC-5). Ctrl-C stops both; so does the server's exit.
	@$(BIN)/python manage.py send_outbox & outbox=$$!; \
	trap 'kill $$outbox 2>/dev/null; wait $$outbox 2>/dev/null' EXIT; \
	trap 'exit 130' INT TERM; \
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-logo

check: $(STAMP)
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null

# docs/rules.md, the generated parts of docs/*.md and docs/diagrams/ (tools/docs.py). `docs` needs
# Graphviz's `dot` for the SVGs (Debian: apt-get install graphviz); `docs-check` does not.
docs: $(STAMP)
	$(BIN)/python tools/docs.py build

docs-check: $(STAMP)
	$(BIN)/python tools/docs.py check

# docs/operations.md, "Backup and restore": on the PostgreSQL of PG_HOST/PG_PORT/PG_USER.
restore-drill: $(STAMP)
	PYTHON=$(BIN)/python bash tools/restore_drill.sh

# Mutation testing of one rule module with mutmut 3, one mutant at a time; resumes where it stopped.
# MODULE is a short name (allocation, quota, grading, policy, lookup, queue, offers, intake, identity)
# or the file's path; the list, the tests each runs and the last kill rates are in docs/mutation.md.
mutate: $(STAMP)
	@test -n "$(MODULE)" || { echo "usage: make mutate MODULE=allocation (see docs/mutation.md)" >&2; exit 2; }
	$(BIN)/python tools/mutate.py $(MODULE) $(if $(FRESH),--fresh) $(if $(SURVIVORS),--survivors) $(if $(SAMPLE),--sample $(SAMPLE))

# The end-to-end tests (tests/e2e) drive Debian's chromium with Playwright and check pages with
# axe-core from the npm registry; without these they are skipped, saying what is missing.
# (Needs root for apt-get; CI runs it.)
e2e-tools:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; }
	@fc-list :lang=zh 2>/dev/null | grep -q . || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk
	@# wrk drives the load test (make loadtest, tests/simulation/test_loadtest.py) on loopback.
	@command -v wrk >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk \
		|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	npm ci --no-audit --no-fund --silent

clean:
	rm -rf $(VENV) staticfiles
	rm -f db.sqlite3*
