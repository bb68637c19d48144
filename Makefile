# Tally: `make run` and `make test` are all a newcomer needs (Python 3.11 is the only prerequisite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS := dev
ifneq ($(findstring mysql,$(DATABASE_URL)),)
EXTRAS := dev,mysql
endif

.PHONY: run test lint bench demo venv dotenv migrate clean simulate

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $(STAMP)

venv: $(STAMP)
	@if [ "$(EXTRAS)" = "dev,mysql" ]; then $(PY) -c "import MySQLdb" 2>/dev/null || $(PY) -m pip install -q -e ".[dev,mysql]"; fi

# make run's settings for this checkout (config/dotenv.py): DEBUG, SECRET_KEY, PORT, PUBLIC_BASE_URL,
# so manage.py in a second terminal sees what the server sees.
dotenv: venv
	$(PY) -m config.dotenv

migrate: dotenv
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput

demo: migrate
	DEBUG=$${DEBUG:-1} $(PY) manage.py load_demo

run: demo
	DEBUG=$${DEBUG:-1} $(PY) -m config.devrun

# One session, browser tests included (docs/admin.md: the leak that once forced a split).
test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	TALLY_TESTING=1 $(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports
	TALLY_TESTING=1 $(PY) manage.py makemigrations --check --dry-run

bench: venv
	$(PY) -m bench.run_all

# The billing simulator (docs/reliability.md): SEEDS seeds from SEED on, MONTHS simulated months each,
# with faults unless FAULTS=0, on a scratch database of its own. The nightly-style long run:
#   make simulate SEEDS=200 MONTHS=36
SEED ?= 1
SEEDS ?= 10
MONTHS ?= 3
ACCOUNTS ?= 3
FAULTS ?= 1
simulate: venv
	TALLY_TESTING=$${TALLY_TESTING:-1} $(PY) manage.py simulate --seed $(SEED) --seeds $(SEEDS) \
		--months $(MONTHS) --accounts $(ACCOUNTS) $(if $(filter 1,$(FAULTS)),--faults) $(SIMULATE_ARGS)

clean:
	rm -rf var/broker var/*.sqlite3* .pytest_cache .mypy_cache
