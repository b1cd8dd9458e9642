# crm-warehouse: the two commands a newcomer needs are `make demo` and `make test`.
# Both create .venv from the pinned lock file (requirements.lock) if it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: setup demo test ui lint parse lock clean

setup: $(STAMP) dbt_project/target/manifest.json

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==0.13.8
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

# The dbt manifest is built once here, not on every Dagster definitions load.
dbt_project/target/manifest.json: $(STAMP) $(shell find dbt_project -name '*.sql' -o -name '*.yml' 2>/dev/null | grep -v '/target/')
	$(BIN)/dbt parse --quiet --project-dir dbt_project --profiles-dir dbt_project
	touch $@

parse: $(STAMP)
	$(BIN)/dbt parse --quiet --project-dir dbt_project --profiles-dir dbt_project

# The Dagster instance settings (run queue limit for warehouse writers, run monitoring) are a template in
# orchestration/dagster.yaml, copied into DAGSTER_HOME whenever the template is newer.
$(DAGSTER_HOME)/dagster.yaml: orchestration/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp orchestration/dagster.yaml $@

demo: setup $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/crm-warehouse demo --out .demo

test: setup
	env -u DAGSTER_HOME $(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder --durations=15

ui: setup $(DAGSTER_HOME)/dagster.yaml
	CRM_LANDING_DIR=$(CURDIR)/.demo/landing CRM_WAREHOUSE_DIR=$(CURDIR)/.demo/warehouse \
	  $(BIN)/dagster dev -h 127.0.0.1 -p 3000 -m orchestration.definitions

lint: setup
	$(BIN)/ruff check orchestration ml expectations tests

# Re-resolve the lock file after changing dependencies in pyproject.toml.
lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf .demo .dagster_home dbt_project/target dbt_project/logs
