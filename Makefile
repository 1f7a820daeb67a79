# Developer commands. `make demo` and `make test` work on a fresh clone with
# Python 3.12 (the .python-version file selects it under pyenv).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench lint typecheck qa migrations-check run worker clean

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

# The product on SQLite, the Nylas emulator and a filesystem Celery broker.
# MAILBOX=PATH loads a folder of .eml/.mbox files instead of generated mail.
demo: $(STAMP)
	$(BIN)/python demo/run.py $(if $(MAILBOX),--mailbox "$(MAILBOX)")

# The whole suite against PostgreSQL and Redis on 127.0.0.1.
test: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python bench/run.py

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	DEBUG=1 $(BIN)/mypy .

migrations-check: $(STAMP)
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

qa: lint typecheck migrations-check test

run: $(STAMP)
	DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:8000

worker: $(STAMP)
	DEBUG=1 $(BIN)/celery -A convex_email worker -B --loglevel=INFO

clean:
	rm -rf .demo
