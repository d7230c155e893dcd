"""MLflow tracking: one run per stage, in experiment `alignx`, tagged so a run leads back to its sources.

Stage runs of one `dvc repro` / `dvc exp run` nest under one parent run ("pipeline"). Plain `dvc repro` sets
no variable a stage could use, so `alignx run` finds the parent by the `dvc` process it runs under: the
nearest `dvc` ancestor's pid and start time key the parent run, created by the first stage and reopened by
the next. Each stage leaves the parent with its own final status (FINISHED, or FAILED where the pipeline
stopped). ALIGNX_PARENT_RUN_ID, when set, names the parent instead, and its owner ends it.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import psutil

from alignx.env import in_repo, process_alive

EXPERIMENT = "alignx"
# The repository's store and artifact folder (alignx.env.in_repo: an experiment's temporary copy, .dvc/tmp/exps/...,
# writes to the original's, so `dvc exp run --temp / --queue` runs appear beside the workspace's).
STORE_FILE, ARTIFACTS_DIR = "mlflow.db", "mlartifacts"
# Set by the orchestration layer (a `dvc repro` wrapper or `dvc exp run`) to nest stage runs under one parent.
PARENT_RUN_ENV = "ALIGNX_PARENT_RUN_ID"
# Tag of a parent run: `<pid>-<start time in ms>` of the `dvc` process whose stages nest under it.
PIPELINE_TAG = "alignx.pipeline"
# The source commit when the checkout is not the source's git history (a Docker image gets it as build arg).
COMMIT_ENV = "ALIGNX_GIT_COMMIT"
# Tags that name the process owning a run (`<host>` and `<pid>-<start time in ms>`), so that a run left RUNNING by a
# killed stage can be told apart from one still in progress and marked FAILED by the next stage.
HOST_TAG, OWNER_TAG = "alignx.host", "alignx.owner"
# How long a stage waits for a busy (locked) sqlite store before failing, naming it.
STORE_WAIT_S = 30.0


class TrackingStoreError(RuntimeError):
    """The MLflow tracking store can't be used: not writable, not reachable, or busy for too long."""


def default_tracking_uri() -> str:
    """The repository's sqlite store (`<repo>/mlflow.db`)."""
    return f"sqlite:///{in_repo(STORE_FILE)}"


def default_artifacts() -> Path:
    """The repository's artifact folder (`<repo>/mlartifacts`)."""
    return in_repo(ARTIFACTS_DIR)


def configure() -> str:
    """Point MLflow at the project's store unless the standard MLflow variables say otherwise; return the id
    of experiment `alignx` (created with its artifacts under `mlartifacts/` on first use)."""
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        mlflow.set_tracking_uri(default_tracking_uri())
    check_store(mlflow.get_tracking_uri())
    experiment = mlflow.get_experiment_by_name(EXPERIMENT)
    if experiment is not None:
        return experiment.experiment_id
    location = os.environ.get("MLFLOW_ARTIFACT_LOCATION") or default_artifacts().as_uri()
    try:
        # The MLflow UI then opens the experiment as "Model training" (runs, metrics), not as a GenAI one.
        return mlflow.create_experiment(EXPERIMENT, artifact_location=location,
                                        tags={"mlflow.experimentKind": "custom_model_development"})
    except mlflow.exceptions.MlflowException:  # created meanwhile by a concurrent stage
        return mlflow.get_experiment_by_name(EXPERIMENT).experiment_id


def check_store(uri: str, wait_s: float = STORE_WAIT_S) -> None:
    """Fail within seconds, naming the store and MLFLOW_TRACKING_URI, when it can't take a write: a sqlite file
    in a folder that is missing or read-only, a sqlite file locked by another process for `wait_s` (a bounded
    wait, not MLflow's silent retries), or an HTTP server that does not answer its health check."""
    where = f"MLflow tracking store {uri!r} (MLFLOW_TRACKING_URI)"
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///"):])
        if not path.parent.is_dir():
            raise TrackingStoreError(f"{where}: {path.parent} is not an existing folder")
        if not os.access(path if path.exists() else path.parent, os.W_OK):
            raise TrackingStoreError(f"{where}: {path if path.exists() else path.parent} is not writable")
        if path.exists():
            try:
                with sqlite3.connect(path, timeout=wait_s) as db:  # waits for the write lock up to wait_s
                    db.execute("BEGIN IMMEDIATE")
                    db.rollback()
            except sqlite3.Error as exc:
                raise TrackingStoreError(f"{where}: {exc} after waiting {wait_s:.0f} s "
                                         "(another process holds the database)") from None
    elif uri.startswith(("http://", "https://")):
        try:
            urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5).close()
        except (urllib.error.URLError, OSError) as exc:
            raise TrackingStoreError(f"{where}: no answer from the server ({exc})") from None
    elif uri.startswith("file:") or "://" not in uri:
        path = Path(uri.removeprefix("file://").removeprefix("file:"))
        existing = next((p for p in (path, *path.parents) if p.exists()), Path("/"))
        if not os.access(existing, os.W_OK):
            raise TrackingStoreError(f"{where}: {existing} is not writable")


def mark_stale_runs(experiment_id: str) -> list[str]:
    """Mark FAILED the runs of this host left RUNNING by a process that no longer exists (a killed stage or
    `dvc repro`); return their ids. Runs of live processes and of other hosts are left alone."""
    client = mlflow.MlflowClient()
    host = socket.gethostname()
    runs = client.search_runs([experiment_id], filter_string=f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = '{host}'")
    stale = [r.info.run_id for r in runs if not _owner_alive(r.data.tags.get(OWNER_TAG, ""))]
    for run_id in stale:
        client.set_tag(run_id, "alignx.ended", "marked FAILED by a later stage: its process was gone (killed)")
        client.set_terminated(run_id, status="FAILED")
    return stale


def owner_tags(proc: psutil.Process | None = None) -> dict[str, str]:
    """The HOST_TAG and OWNER_TAG naming `proc` (default: this process)."""
    proc = proc or psutil.Process()
    return {HOST_TAG: socket.gethostname(), OWNER_TAG: f"{proc.pid}-{int(proc.create_time() * 1000)}"}


def _owner_alive(owner: str) -> bool:
    pid, _, start = owner.partition("-")
    if not (pid.isdigit() and start.isdigit()):
        return True  # not ours to judge
    return process_alive(int(pid), int(start) / 1000)


def git_commit() -> str:
    """ALIGNX_GIT_COMMIT when set (a Docker image); else the checked-out commit, `-dirty` when the tree has
    changes; `unknown` outside git."""
    if os.environ.get(COMMIT_ENV):
        return os.environ[COMMIT_ENV]
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
        "alignx.pipeline.stage": stage,
        "dvc.stage": stage,
        "git.commit": git_commit(),
        "prefect.flow_run_id": str(flow_run.id or ""),
        "mlflow.runName": stage,
        **owner_tags(),
        **(tags or {}),
    }
    if os.environ.get("DVC_EXP_NAME"):
        all_tags["dvc.experiment"] = os.environ["DVC_EXP_NAME"]
    parent = os.environ.get(PARENT_RUN_ENV)
    if parent:
        all_tags["mlflow.parentRunId"] = parent
    for run_id in mark_stale_runs(experiment_id):
        print(f"[mlflow] run {run_id} was left RUNNING by a killed process: marked FAILED")
    # System metrics (CPU, memory, disk, GPU when present) on every stage, sampled every
    # MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL seconds (alignx.env): a stage shorter than that logs none.
    run = mlflow.start_run(experiment_id=experiment_id, run_name=stage, tags=all_tags, log_system_metrics=True)
    try:
        mlflow.log_params(flatten(params))
        yield run
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    mlflow.end_run(status="FINISHED")


def dvc_process(proc: psutil.Process | None = None) -> psutil.Process | None:
    """The nearest ancestor of `proc` (default: this process) that is a `dvc` command, or None."""
    proc = proc or psutil.Process()
    for ancestor in proc.parents():
        try:
            argv = ancestor.cmdline()
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            continue
        # `dvc ...` is a console script: argv is [python, .../bin/dvc, ...], [.../bin/dvc, ...] or [python, -m, dvc]
        if any(Path(a).name == "dvc" for a in argv[:2]) or argv[1:3] == ["-m", "dvc"]:
            return ancestor
    return None


def open_pipeline_run(proc: psutil.Process | None = None) -> tuple[str | None, bool]:
    """The parent run id for the stage `proc` (default: this process) runs, and whether the stage must end
    it (see the module docstring). (None, False) outside DVC when ALIGNX_PARENT_RUN_ID is unset: a stage
    run by hand stands alone.
    """
    if os.environ.get(PARENT_RUN_ENV):
        return os.environ[PARENT_RUN_ENV], False
    dvc = dvc_process(proc)
    if dvc is None:
        return None, False
    key = f"{dvc.pid}-{int(dvc.create_time() * 1000)}"
    experiment_id = configure()
    client = mlflow.MlflowClient()
    found = client.search_runs([experiment_id], filter_string=f"tags.`{PIPELINE_TAG}` = '{key}'", max_results=1)
    if found:
        client.update_run(found[0].info.run_id, status="RUNNING")
        return found[0].info.run_id, True
    exp_name = os.environ.get("DVC_EXP_NAME", "")
    tags = {
        PIPELINE_TAG: key,
        **owner_tags(dvc),
        "git.commit": git_commit(),
        "dvc.command": _dvc_command(dvc.cmdline()),
        **({"dvc.experiment": exp_name} if exp_name else {}),
    }
    run = client.create_run(experiment_id, run_name=f"pipeline {exp_name}".strip(), tags=tags)
    return run.info.run_id, True


def log_to_pipeline(metrics: dict[str, float]) -> str | None:
    """Log `metrics` to the parent `pipeline` run of this stage (its headline figures, e.g. `pba/test_accuracy`);
    return its id, None for a stage run on its own."""
    parent = os.environ.get(PARENT_RUN_ENV)
    if parent:
        mlflow.MlflowClient().log_batch(parent, metrics=[
            mlflow.entities.Metric(k, float(v), int(time.time() * 1000), 0) for k, v in metrics.items()])
    return parent


def describe_version(name: str, version: str, card: str) -> None:
    """Describe a registered model by its card's first paragraphs (what it is) and the version by the whole card
    (a markdown model card: how it was made, its figures)."""
    client = mlflow.MlflowClient()
    client.update_registered_model(name, description=card.split("\n\n|")[0])
    client.update_model_version(name, version, description=card)


def close_pipeline_run(run_id: str, status: str) -> None:
    """End the parent run with the status of the stage that just ran (FINISHED or FAILED)."""
    configure()
    mlflow.MlflowClient().set_terminated(run_id, status=status)


def _dvc_command(argv: list[str]) -> str:
    """`dvc repro -f` from `[python, /path/bin/dvc, repro, -f]` (the interpreter and paths left out)."""
    start = next((i for i, a in enumerate(argv) if Path(a).name == "dvc"), 0)
    return " ".join(["dvc", *argv[start + 1:]])


def pyplot():
    """matplotlib's pyplot, headless (Agg: stages run under DVC and CI), imported on first use so that only a stage
    that draws a figure for its MLflow run pays for the import."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
