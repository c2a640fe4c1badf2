# Two commands do all set-up on a fresh machine (see README.md):
#   make demo   - run the pipeline on the embedded local PostgreSQL seeded with the synthetic study
#   make test   - run the whole test suite, then materialize the whole graph with the dagster CLI on the embedded
#                 demo database (what .ci/run calls)
# The virtual environment is (re)built only when pyproject.toml or a lock file changes, so a second run installs
# nothing. Packages are installed with compiled bytecode: these machines set PYTHONDONTWRITEBYTECODE=1, so without
# it every process would compile everything it imports (bench/load.py: `import dagster` 1.8 s instead of 0.55 s).
# Settings come from one place (americano_pipeline/settings.py: environment, then .env, then defaults); recipes
# that start dagster or mlflow take them from `americano env`, so nothing here repeats a default.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
SETTINGS := eval "$$($(VENV)/bin/americano env)" &&
MANIFEST := dbt_project/target/manifest.json
DBT := $(VENV)/bin/dbt --no-use-colors
DBT_DIRS := --project-dir dbt_project --profiles-dir dbt_project
DBT_SOURCES := $(shell find dbt_project/models dbt_project/macros dbt_project/tests dbt_project/plugins -type f) \
	dbt_project/dbt_project.yml dbt_project/profiles.yml
TOOLS := .tools
UV := $(TOOLS)/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_COMPILE_BYTECODE := 1

.PHONY: demo test materialize install bytecode manifest ui docs mlflow-ui api lock clean

demo: bytecode $(MANIFEST)
	$(VENV)/bin/americano demo

test: $(TEST_STAMP) bytecode $(MANIFEST)
	$(PY) -m pytest
	$(MAKE) --no-print-directory materialize

# The graph as CI and operators run it from the command line (the README's commands): the job snapshot_and_warehouse
# (snapshot of all history, then the warehouse), then one single-run backfill of the analyses over every protocol
# partition. Fails if any asset or blocking check does.
DAGSTER := $(VENV)/bin/dagster
materialize: bytecode $(MANIFEST)
	$(VENV)/bin/americano prepare
	$(VENV)/bin/americano runs recover
	$(SETTINGS) time $(DAGSTER) job execute -m americano_pipeline.definitions -j snapshot_and_warehouse
	$(SETTINGS) time $(DAGSTER) asset materialize -m americano_pipeline.definitions --select 'group:analysis' \
		--partition-range "$$($(VENV)/bin/americano protocols --range)"

install: $(STAMP)

# The dbt manifest the Dagster code location reads: prepared here, never implicitly on import.
manifest: $(MANIFEST)

$(MANIFEST): $(STAMP) $(DBT_SOURCES)
	$(DBT) parse --quiet $(DBT_DIRS)
	touch $(MANIFEST)

# The Dagster UI on http://127.0.0.1:3000 (this machine only), on the same instance `make demo` used.
UI_PORT ?= 3000
ui: bytecode $(MANIFEST)
	$(SETTINGS) $(DAGSTER) dev -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

# The research API on http://127.0.0.1:8000 (this machine only) over the results and warehouse `make demo` built;
# a user's token: .venv/bin/americano api token <userId>.
API_PORT ?= 8000
api: bytecode
	$(VENV)/bin/americano api serve --host 127.0.0.1 --port $(API_PORT)

$(UV):
	python3.11 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

$(STAMP): pyproject.toml requirements.lock | $(UV)
	test -x $(PY) || $(UV) venv --quiet --python python3.11 $(VENV)
	$(UV) pip sync --quiet --python $(PY) requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps -e .
	touch $(STAMP)

# The project's own bytecode, refreshed for the files that changed since (the packages get theirs from uv).
bytecode: $(STAMP)
	$(PY) -m compileall -q americano_pipeline

# The test extra (pytest, selenium) on top of the runtime set, at the versions requirements-test.lock pins.
$(TEST_STAMP): $(STAMP) requirements-test.lock
	$(UV) pip install --quiet --python $(PY) -r requirements-test.lock
	touch $(TEST_STAMP)

# The dbt docs of the warehouse (models, columns, metric catalogue, lineage) on http://127.0.0.1:8080; needs a
# built warehouse (make demo) for the column types.
docs: $(MANIFEST)
	$(SETTINGS) $(DBT) docs generate $(DBT_DIRS)
	$(SETTINGS) $(DBT) docs serve $(DBT_DIRS) --host 127.0.0.1 --port 8080 --no-browser

# The MLflow UI on http://127.0.0.1:5000 over the pipeline's store (every snapshot, dbt build and analysis run).
MLFLOW_PORT ?= 5000
mlflow-ui: $(STAMP)
	$(SETTINGS) $(VENV)/bin/mlflow ui --backend-store-uri "$$MLFLOW_TRACKING_URI" --host 127.0.0.1 --port $(MLFLOW_PORT)

# Re-resolve the pinned dependency sets after editing pyproject.toml: the runtime set, and it plus the test extra.
lock: | $(UV)
	$(UV) pip compile --quiet --python-version 3.11 pyproject.toml -o requirements.lock
	$(UV) pip compile --quiet --python-version 3.11 pyproject.toml --extra test -c requirements.lock -o requirements-test.lock

clean:
	rm -rf $(VENV) $(TOOLS) dbt_project/target dbt_project/logs
