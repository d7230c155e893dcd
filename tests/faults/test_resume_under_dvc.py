"""Fault matrix, resume (issue 28.7), the case users hit most: params change, `dvc repro` is killed with SIGKILL
during training, `dvc repro` again. The second run resumes from the killed run's checkpoint (same config) and gives
the same model as an uninterrupted run; the killed stage's MLflow run ends FAILED; no staging debris stays."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import mlflow
import pytest
import yaml

from tests.conftest import BIN, run_cli

pytestmark = pytest.mark.slow

# A world and a model small enough for minutes on 2 cores; every stage up to train@pba runs through DVC.
SMALL = {
    "personas": {"users": {"train": 60, "val": 12, "test": 12, "novel": 12}, "chunk_users": 25, "active_dims": [10, 12]},
    "pairs": {"chunk_users": 20, "runner": {"kind": "thread", "workers": 2, "address": ""}},
    "benchmarks": {"root": "data/import", "files": {}},
    "base": {"tiny": {"vocab_size": 700, "hidden_size": 32, "intermediate_size": 64, "num_layers": 1, "num_heads": 2,
                      "num_kv_heads": 1, "max_position_embeddings": 1024, "tie_word_embeddings": True},
             "warmup": {"steps": 8, "batch_size": 4, "seq_len": 128, "lr": 3e-3, "max_records": 32},
             "min_copy_probe": 0.0, "min_induction": 0.0},  # an 8-step base reads nothing: no retrieval floors
    "format": {"max_len": 512},
    "reference": {"batch_size": 16, "device": "cpu"},
    "directions": {"min_val_macro_f1": 0.0},
    "train": {"global_batch": 8, "micro_batch": 8, "checkpoint_every": 4, "threads": 1, "aligners": {"pba": {"epochs": 1}}},
}


def set_params(repo: Path, sections: dict) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for name, values in sections.items():
        params[name].update(values)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def model_digest(repo: Path) -> str:
    return hashlib.sha256((repo / "models/pba/model.safetensors").read_bytes()).hexdigest()


def repro(repo: Path, *args: str) -> subprocess.CompletedProcess:
    result = run_cli(repo, "dvc", "repro", *args, "train@pba", env={"OMP_NUM_THREADS": "1"}, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_params_change_kill_9_then_dvc_repro_resumes_to_the_uninterrupted_model(repo_copy):
    set_params(repo_copy, SMALL)
    repro(repo_copy)  # the upstream stages and a first training

    set_params(repo_copy, {"train": {"lr": 2e-3}})  # params change: train@pba must run again
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "1"}
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_ARTIFACT_LOCATION"):
        env.pop(var, None)
    proc = subprocess.Popen(["dvc", "repro", "train@pba"], cwd=repo_copy, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latest = repo_copy / "checkpoints/train/pba/latest"
    deadline = time.time() + 600
    while not latest.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert latest.exists(), "training never wrote a checkpoint"
    os.killpg(proc.pid, signal.SIGKILL)  # dvc, the stage and its Prefect server: everything at once
    proc.wait()

    resumed = repro(repo_copy)
    assert "resumed from" in resumed.stdout + resumed.stderr
    resumed_model = model_digest(repo_copy)

    shutil.rmtree(repo_copy / "checkpoints")
    repro(repo_copy, "--force", "--single-item", "--no-run-cache")  # the same config, uninterrupted
    assert model_digest(repo_copy) == resumed_model

    mlflow.set_tracking_uri(f"sqlite:///{repo_copy / 'mlflow.db'}")
    try:
        runs = mlflow.search_runs(experiment_names=["alignx"], output_format="list",
                                  filter_string="tags.`alignx.pipeline.stage` = 'train@pba'")
        assert sorted(r.info.status for r in runs).count("FAILED") == 1  # the killed one, marked by a later stage
        assert not [r for r in runs if r.info.status == "RUNNING"]
    finally:
        mlflow.set_tracking_uri(None)
    assert not list((repo_copy / "models").glob(".*.tmp-*"))
