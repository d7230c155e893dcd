"""Stage runs of one `dvc repro` nest under one parent run, found through the `dvc` process they run under."""

from __future__ import annotations

import subprocess
import time

import mlflow
import psutil
import pytest

from alignx.pipeline import tracking


@pytest.fixture
def fake_dvc(tmp_path):
    """Start a process whose argv is `[/bin/sh, .../dvc, repro, -f]` with one child (the "stage")."""
    script = tmp_path / "dvc"
    script.write_text("#!/bin/sh\nsleep 60 &\nwait\n")
    script.chmod(0o755)
    started = []

    def start() -> psutil.Process:
        proc = subprocess.Popen(["/bin/sh", str(script), "repro", "-f"])
        started.append(proc)
        deadline = time.monotonic() + 10
        while not psutil.Process(proc.pid).children() and time.monotonic() < deadline:
            time.sleep(0.05)
        return psutil.Process(proc.pid).children()[0]

    yield start
    for proc in started:
        for child in psutil.Process(proc.pid).children():
            child.kill()
        proc.kill()
        proc.wait()


def test_stages_of_one_dvc_process_share_a_parent_run(fake_dvc, mlflow_store, monkeypatch):
    monkeypatch.delenv(tracking.PARENT_RUN_ENV, raising=False)
    monkeypatch.setenv("DVC_EXP_NAME", "exp-1")
    stage = fake_dvc()
    assert tracking.dvc_process(stage).pid == stage.parent().pid
    assert tracking.dvc_process() is None, "pytest does not run under dvc"

    first, owned = tracking.open_pipeline_run(stage)
    assert owned
    tracking.close_pipeline_run(first, "FINISHED")
    again, _ = tracking.open_pipeline_run(stage)  # the next stage of the same `dvc repro`
    assert again == first
    run = mlflow.get_run(first)
    assert run.info.status == "RUNNING", "reopened for the stage now running"
    assert run.info.run_name == "pipeline exp-1"
    assert run.data.tags["dvc.command"] == "dvc repro -f"
    assert run.data.tags["dvc.experiment"] == "exp-1"
    tracking.close_pipeline_run(first, "FAILED")
    assert mlflow.get_run(first).info.status == "FAILED"

    other, _ = tracking.open_pipeline_run(fake_dvc())
    assert other != first, "another dvc process is another pipeline run"


def test_explicit_parent_wins_and_a_stage_by_hand_stands_alone(fake_dvc, mlflow_store, monkeypatch):
    monkeypatch.delenv(tracking.PARENT_RUN_ENV, raising=False)
    assert tracking.open_pipeline_run() == (None, False)
    monkeypatch.setenv(tracking.PARENT_RUN_ENV, "abc123")
    assert tracking.open_pipeline_run(fake_dvc()) == ("abc123", False), "its owner ends an explicit parent"


def test_headline_figures_land_on_the_parent_run(mlflow_store, monkeypatch):
    tracking.configure()
    parent = mlflow.MlflowClient().create_run(mlflow.get_experiment_by_name(tracking.EXPERIMENT).experiment_id,
                                              run_name="pipeline").info.run_id
    monkeypatch.setenv(tracking.PARENT_RUN_ENV, parent)
    assert tracking.log_to_pipeline({"pba/test_accuracy": 0.84, "pba/p-soups_gain": -0.01}) == parent
    assert mlflow.get_run(parent).data.metrics == {"pba/test_accuracy": 0.84, "pba/p-soups_gain": -0.01}
    monkeypatch.delenv(tracking.PARENT_RUN_ENV)
    assert tracking.log_to_pipeline({"pba/test_accuracy": 0.5}) is None  # a stage run on its own: nothing to do
