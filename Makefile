# Storefront. `make run` and `make test` set everything up on a fresh machine.
# The newest supported Python on PATH (3.13, 3.12, 3.11, else python3 when it is one of them);
# override with PYTHON=… and keep several environments apart with VENV=….
SUPPORTED := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 14))
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c '$(SUPPORTED)' 2>/dev/null && { command -v $$p; break; }; \
	done)
VENV ?= .venv
PY := $(VENV)/bin/python
export FLASK_APP := wsgi.py

.PHONY: install run test test-postgres lint bench clean python

$(VENV)/.installed: setup.cfg pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11, 3.12 or 3.13 is needed (set PYTHON=…)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m flask db upgrade
	$(PY) -m flask seed-plans
	# devserver runs `flask stripe sync-plans` once Stripe (or its emulator) answers.
	$(PY) -m storefront.devserver

# TEST_DATABASE_URL=postgresql+psycopg://… runs the same suite on PostgreSQL.
test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# ruff; bandit (no medium or high finding outside the tests); pip-audit on the pinned
# dependencies (tools/audit_dependencies.py says loudly when its source cannot be reached).
lint: install
	$(VENV)/bin/ruff check storefront tests tools wsgi.py gunicorn.conf.py
	$(VENV)/bin/bandit -q -r storefront tools wsgi.py gunicorn.conf.py --severity-level medium
	$(PY) tools/audit_dependencies.py

# Benchmarks (docs/BENCHMARKS.md): the production stack on loopback, measured with wrk;
# prints one table. ROUNDS=3 DURATION=5 (seconds per wrk run), BENCH_PORT_BASE=5240.
bench: install
	$(PY) -m tools.bench.run

# The interpreter a new environment would be created with.
python:
	@echo $(PYTHON)

clean:
	rm -rf $(VENV) instance .pytest_cache
