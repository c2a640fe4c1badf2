# Two commands do all set-up on a fresh machine (see README.md):
#   make demo   - run the pipeline on the embedded local PostgreSQL seeded with the synthetic study
#   make test   - run the whole test suite, then materialize the whole graph with `dagster asset materialize` on the
#                 embedded demo database (what .ci/run calls)
# The virtual environment is (re)built only when pyproject.toml or requirements.lock change, so a second run
# installs nothing.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MANIFEST := dbt_project/target/manifest.json
DBT := $(VENV)/bin/dbt --no-use-colors
DBT_DIRS := --project-dir dbt_project --profiles-dir dbt_project
DBT_SOURCES := $(shell find dbt_project/models dbt_project/macros dbt_project/tests dbt_project/plugins -type f) \
	dbt_project/dbt_project.yml dbt_project/profiles.yml
TOOLS := .tools
UV := $(TOOLS)/bin/uv
export UV_PYTHON_DOWNLOADS := never
export DAGSTER_HOME ?= $(CURDIR)/data/dagster_home

.PHONY: demo test materialize install manifest ui docs mlflow-ui lock clean

demo: $(STAMP) $(MANIFEST)
	$(VENV)/bin/americano demo

test: $(STAMP) $(MANIFEST)
	$(PY) -m pytest
	$(MAKE) --no-print-directory materialize

# The graph as CI and operators run it from the command line: the snapshot (all history) and the warehouse, then
# one single-run backfill of the analyses over every protocol partition. Fails if any asset or blocking check does.
DAGSTER_MATERIALIZE := $(VENV)/bin/dagster asset materialize -m americano_pipeline.definitions
materialize: $(STAMP) $(MANIFEST)
	$(VENV)/bin/americano prepare
	time $(DAGSTER_MATERIALIZE) --select 'group:raw,group:warehouse' \
		--config-json '{"ops": {"raw_snapshot": {"config": {"days": 0}}}}'
	time $(DAGSTER_MATERIALIZE) --select 'group:analysis' \
		--partition-range "$$($(VENV)/bin/americano protocols --range)"

install: $(STAMP)

# The dbt manifest the Dagster code location reads: prepared here, never implicitly on import.
manifest: $(MANIFEST)

$(MANIFEST): $(STAMP) $(DBT_SOURCES)
	$(DBT) parse --quiet $(DBT_DIRS)
	touch $(MANIFEST)

# The Dagster UI on http://127.0.0.1:3000 (this machine only), on the same instance `make demo` used.
UI_PORT ?= 3000
ui: $(STAMP) $(MANIFEST)
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

$(UV):
	python3.11 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

$(STAMP): pyproject.toml requirements.lock | $(UV)
	test -x $(PY) || $(UV) venv --quiet --python python3.11 $(VENV)
	$(UV) pip sync --quiet --python $(PY) requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps -e .
	touch $(STAMP)

# The dbt docs of the warehouse (models, columns, metric catalogue, lineage) on http://127.0.0.1:8080; needs a
# built warehouse (make demo) for the column types.
docs: $(MANIFEST)
	$(DBT) docs generate $(DBT_DIRS)
	$(DBT) docs serve $(DBT_DIRS) --host 127.0.0.1 --port 8080 --no-browser

# The MLflow UI on http://127.0.0.1:5000 over the pipeline's store (every snapshot, dbt build and analysis run).
MLFLOW_PORT ?= 5000
mlflow-ui: $(STAMP)
	$(VENV)/bin/mlflow ui --backend-store-uri $${MLFLOW_TRACKING_URI:-sqlite:///$${AMERICANO_DATA_DIR:-$(CURDIR)/data}/mlflow/mlflow.db} \
		--host 127.0.0.1 --port $(MLFLOW_PORT)

# Re-resolve the pinned dependency set after editing pyproject.toml.
lock: | $(UV)
	$(UV) pip compile --quiet --python-version 3.11 pyproject.toml -o requirements.lock

clean:
	rm -rf $(VENV) $(TOOLS) dbt_project/target dbt_project/logs
