"""MLflow tracking: one run per stage, in experiment `alignx`, tagged so a run leads back to its sources."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow

EXPERIMENT = "alignx"
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
DEFAULT_ARTIFACTS = Path("mlartifacts")
# Set by the orchestration layer (a `dvc repro` wrapper or `dvc exp run`) to nest stage runs under one parent.
PARENT_RUN_ENV = "ALIGNX_PARENT_RUN_ID"


def configure() -> str:
    """Point MLflow at the project's store unless the standard MLflow variables say otherwise; return the id
    of experiment `alignx` (created with its artifacts under `mlartifacts/` on first use)."""
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        mlflow.set_tracking_uri(DEFAULT_TRACKING_URI)
    experiment = mlflow.get_experiment_by_name(EXPERIMENT)
    if experiment is not None:
        return experiment.experiment_id
    location = os.environ.get("MLFLOW_ARTIFACT_LOCATION") or DEFAULT_ARTIFACTS.resolve().as_uri()
    try:
        return mlflow.create_experiment(EXPERIMENT, artifact_location=location)
    except mlflow.exceptions.MlflowException:  # created meanwhile by a concurrent stage
        return mlflow.get_experiment_by_name(EXPERIMENT).experiment_id


def git_commit() -> str:
    """The checked-out commit, with `-dirty` when the tree has changes; `unknown` outside git."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout
        dirty = subprocess.run(["git", "status", "--porcelain", "-uno"], capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha.strip() + ("-dirty" if dirty.strip() else "")


def flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested params as MLflow's flat `a.b.c` keys."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


@contextmanager
def stage_run(stage: str, params: dict[str, Any], tags: dict[str, str] | None = None) -> Iterator[mlflow.ActiveRun]:
    """One MLflow run for one DVC stage: FINISHED when the body returns, FAILED when it raises."""
    import prefect.runtime.flow_run as flow_run

    experiment_id = configure()
    all_tags = {
        "alignx.stage": stage,
        "dvc.stage": stage,
        "git.commit": git_commit(),
        "prefect.flow_run_id": str(flow_run.id or ""),
        "mlflow.runName": stage,
        **(tags or {}),
    }
    if os.environ.get("DVC_EXP_NAME"):
        all_tags["dvc.experiment"] = os.environ["DVC_EXP_NAME"]
    parent = os.environ.get(PARENT_RUN_ENV)
    if parent:
        all_tags["mlflow.parentRunId"] = parent
    run = mlflow.start_run(experiment_id=experiment_id, run_name=stage, tags=all_tags, log_system_metrics=False)
    try:
        mlflow.log_params(flatten(params))
        yield run
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    mlflow.end_run(status="FINISHED")
