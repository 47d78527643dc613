# Returnwise — `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
MANAGE := $(BIN)/python manage.py
# Tests use PostgreSQL when it answers on 127.0.0.1:5432 (CI), SQLite otherwise.
PG_URL := postgres://postgres@127.0.0.1:5432/returnwise
TEST_DATABASE_URL ?= $(shell $(PYTHON) -c "import socket; socket.create_connection(('127.0.0.1', 5432), 1); print('$(PG_URL)')" 2>/dev/null || echo sqlite:///var/test.sqlite3)

.DEFAULT_GOAL := help
.PHONY: help install lock demo test lint format bench worker beat web chromium messages migrate seed loadtest faults clean

help: ## Show this help
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c "import sys; sys.exit(sys.version_info < (3, 11))" || (echo "Python 3.11+ is needed" && exit 1)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP) ## Install everything into .venv from the lock file

lock: ## Re-pin requirements.lock from pyproject.toml (needs the network)
	rm -rf var/lockenv && $(PYTHON) -m venv var/lockenv
	var/lockenv/bin/pip install -q --upgrade pip
	var/lockenv/bin/pip install -q ".[dev]"
	var/lockenv/bin/pip freeze --exclude returnwise > requirements.lock
	rm -rf var/lockenv

chromium: ## Install Debian's Chromium for the browser tests when it is missing
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }

messages: $(STAMP) ## Compile the Dutch (and English) translations
	$(MANAGE) compilemessages --ignore=.venv --ignore=var -v 0

migrate: $(STAMP) ## Apply migrations (SQLite at var/db.sqlite3 unless DATABASE_URL is set)
	@mkdir -p var
	$(MANAGE) migrate --noinput -v 0

seed: migrate ## Load the deterministic demo data (twice changes nothing)
	$(MANAGE) seed_demo

# On a polling broker the Celery worker takes up to ~6 s to stop; honcho would SIGKILL it
# after 5, so give it 20.
HONCHO := $(BIN)/python -c "import honcho.command, honcho.manager; honcho.manager.KILL_WAIT = 20; honcho.command.main()"

demo: seed ## Run the site at http://127.0.0.1:8000 with a worker and beat (Ctrl-C stops all)
	@echo "Site: http://127.0.0.1:8000   Admin: http://127.0.0.1:8000/admin/ (admin / admin)"
	@echo "Customer: customer@example.com / customer   Staff: editor, moderator, returns, marketing (password = name)"
	$(HONCHO) -f Procfile.demo start

web: $(STAMP) ## Only the web server (dev settings)
	$(MANAGE) runserver 127.0.0.1:8000

worker: $(STAMP) ## A Celery worker
	$(BIN)/celery -A config worker -l info

beat: $(STAMP) ## Celery beat (run exactly one)
	$(BIN)/celery -A config beat -l info

lint: $(STAMP) ## ruff, the layers contract, migrations and Django's checks
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	DJANGO_SETTINGS_MODULE=config.settings.test DATABASE_URL=sqlite:///var/check.sqlite3 $(MANAGE) makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=config.settings.test DATABASE_URL=sqlite:///var/check.sqlite3 $(MANAGE) check

format: $(STAMP) ## Format and fix what ruff can
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(STAMP) chromium lint ## Install, lint and run the whole suite
	@mkdir -p var
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest $(PYTEST_ARGS)

bench: $(STAMP) ## Benchmarks (PostgreSQL), each printed as a ratio against a baseline
	$(BIN)/python -m bench.import_orders
	$(BIN)/python -m bench.api_orders
	$(BIN)/python -m bench.pages
	$(BIN)/python -m bench.ledger
	$(BIN)/python -m bench.outbox
	$(BIN)/python -m bench.reviews_submit
	$(BIN)/python -m bench.returns_portal
	$(BIN)/python -m bench.insights
	$(BIN)/python -m bench.campaigns

faults: $(STAMP) ## Fault drills: kill workers, restart Redis, failing peers; prints what was lost
	@mkdir -p var
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest -m faults -rA -s tests/faults

loadtest: $(STAMP) ## Mixed load with locust against gunicorn on PostgreSQL; prints throughput and latency
	$(BIN)/python -m loadtest

clean: ## Remove the virtualenv and local data
	rm -rf $(VENV) var
