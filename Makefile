# Two commands do all set-up on a fresh machine (see README.md):
#   make demo   - run the pipeline on the embedded local PostgreSQL seeded with the synthetic study
#   make test   - run the whole test suite (what .ci/run calls)
# The virtual environment is (re)built only when pyproject.toml or requirements.lock change, so a second run
# installs nothing.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TOOLS := .tools
UV := $(TOOLS)/bin/uv
export UV_PYTHON_DOWNLOADS := never
export DAGSTER_HOME ?= $(CURDIR)/data/dagster_home

.PHONY: demo test install ui lock clean

demo: $(STAMP)
	$(VENV)/bin/americano demo

test: $(STAMP)
	$(PY) -m pytest

install: $(STAMP)

# The Dagster UI on http://127.0.0.1:3000 (this machine only), on the same instance `make demo` used.
ui: $(STAMP)
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

$(UV):
	python3.11 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

$(STAMP): pyproject.toml requirements.lock | $(UV)
	test -x $(PY) || $(UV) venv --quiet --python python3.11 $(VENV)
	$(UV) pip sync --quiet --python $(PY) requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps -e .
	touch $(STAMP)

# Re-resolve the pinned dependency set after editing pyproject.toml.
lock: | $(UV)
	$(UV) pip compile --quiet --python-version 3.11 pyproject.toml -o requirements.lock

clean:
	rm -rf $(VENV) $(TOOLS)
