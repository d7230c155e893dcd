# Two commands set up everything on a fresh machine with nothing but Python 3.11:
#   make pipeline   create .venv if absent, install the project, run `dvc repro`
#   make test       create .venv if absent, install the project with its test extras, run the tests
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The project's offline and telemetry settings (also applied by `import alignx` for any other entry point).
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := true
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120
export MLFLOW_DISABLE_TELEMETRY := true
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION := false
export DVC_NO_ANALYTICS := 1
export GX_ANALYTICS_ENABLED := false
# DVC runs each stage's `alignx run ...` through the shell: put the venv first on its PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install pipeline test clean

# torch is installed first from its pinned CPU wheel: an unpinned resolution would pull a CUDA build.
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

pipeline: install
	$(BIN)/dvc repro

test: install
	$(BIN)/pytest

clean:
	rm -rf $(VENV) mlflow.db mlartifacts .prefect
