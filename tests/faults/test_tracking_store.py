"""Fault matrix, the tracking store (issue 28.5-28.6): an unusable MLflow store is named within seconds, a busy one
is waited for a bounded time, and runs left RUNNING by killed stages are marked FAILED by the next stage."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import mlflow
import psutil
import pytest

from alignx.pipeline import tracking


def test_a_store_in_a_missing_folder_is_named_at_once(tmp_path):
    uri = f"sqlite:///{tmp_path}/no/such/folder/mlflow.db"
    start = time.monotonic()
    with pytest.raises(tracking.TrackingStoreError, match=r"MLFLOW_TRACKING_URI.*is not an existing folder"):
        tracking.check_store(uri)
    assert time.monotonic() - start < 5


def test_a_file_store_under_a_file_is_named(tmp_path):
    (tmp_path / "plain").write_text("not a folder")
    with pytest.raises(tracking.TrackingStoreError, match="plain is not an existing folder"):
        tracking.check_store(f"sqlite:///{tmp_path}/plain/mlflow.db")


def test_a_locked_store_is_waited_for_then_named(tmp_path):
    path = tmp_path / "mlflow.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(tracking.TrackingStoreError, match=r"locked after waiting 1 s \(another process holds"):
            tracking.check_store(f"sqlite:///{path}", wait_s=1)
    finally:
        holder.execute("ROLLBACK")
    tracking.check_store(f"sqlite:///{path}", wait_s=1)  # free again: no error


def test_an_unreachable_tracking_server_is_named_within_seconds():
    start = time.monotonic()
    with pytest.raises(tracking.TrackingStoreError, match="no answer from the server"):
        tracking.check_store("http://127.0.0.1:9")  # discard port: nothing listens
    assert time.monotonic() - start < 10


def test_runs_of_killed_stages_are_marked_failed_by_the_next_stage(mlflow_store):
    experiment_id = tracking.configure()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_owner = {tracking.HOST_TAG: tracking.owner_tags()[tracking.HOST_TAG],
                  tracking.OWNER_TAG: f"{dead.pid}-{int(psutil.Process(dead.pid).create_time() * 1000)}"}
    dead.wait()
    client = mlflow.MlflowClient()
    killed = client.create_run(experiment_id, tags=dead_owner).info.run_id
    alive = client.create_run(experiment_id, tags=tracking.owner_tags()).info.run_id  # this process: in progress
    foreign = client.create_run(experiment_id).info.run_id  # no owner tags: not ours to judge

    with tracking.stage_run("space", {}):
        pass
    assert client.get_run(killed).info.status == "FAILED"
    assert "killed" in client.get_run(killed).data.tags["alignx.ended"]
    assert client.get_run(alive).info.status == "RUNNING"
    assert client.get_run(foreign).info.status == "RUNNING"
