# Storefront. `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export FLASK_APP := wsgi.py

.PHONY: install run test test-postgres lint clean

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m flask db upgrade
	$(PY) -m flask seed-plans
	$(PY) -m storefront.devserver

# TEST_DATABASE_URL=postgresql+psycopg://… runs the same suite on PostgreSQL.
test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check storefront tests wsgi.py

clean:
	rm -rf $(VENV) instance .pytest_cache
