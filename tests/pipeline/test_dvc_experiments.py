"""DVC experiments as their users run them: `dvc exp run --queue` + `dvc queue start`, and `--temp`, run in a
temporary copy of the repository (.dvc/tmp/exps/...); their stage runs land in the repository's own MLflow store
and Prefect database, and `dvc exp show` lists each with its params.

Narrowed to the cheapest stage (`space`); the full pipeline goes through the same `alignx run` path.
"""

import csv
import io
import sqlite3
import time

import mlflow
import pytest

from alignx.ops import experiments
from tests.conftest import run_cli

pytestmark = pytest.mark.slow

QUEUE_TIMEOUT_S = 420


def wait_for_queue(repo) -> str:
    """Poll `dvc queue status` until nothing is queued or running; return its last output."""
    deadline = time.monotonic() + QUEUE_TIMEOUT_S
    while time.monotonic() < deadline:
        status = run_cli(repo, "dvc", "queue", "status").stdout
        if not any(word in status for word in ("Queued", "Running")):
            return status
        time.sleep(3)
    raise AssertionError(f"queue not done after {QUEUE_TIMEOUT_S} s:\n{status}")


def test_queued_and_temp_experiments_write_to_the_repository_stores(repo_copy):
    for value in ("0.61", "0.62"):
        queued = run_cli(repo_copy, "dvc", "exp", "run", "--queue", "-S", f"space.positive_threshold={value}", "space")
        assert queued.returncode == 0, queued.stdout + queued.stderr
    try:
        started = run_cli(repo_copy, "dvc", "queue", "start")
        assert started.returncode == 0, started.stdout + started.stderr
        status = wait_for_queue(repo_copy)
    finally:
        run_cli(repo_copy, "dvc", "queue", "stop")
    assert status.count("Success") == 2, status
    temp = run_cli(repo_copy, "dvc", "exp", "run", "--temp", "-S", "space.positive_threshold=0.63", "space")
    assert temp.returncode == 0, temp.stdout + temp.stderr

    shown = run_cli(repo_copy, "dvc", "exp", "show", "--csv")
    rows = list(csv.DictReader(io.StringIO(shown.stdout)))
    values = sorted(r["space.positive_threshold"] for r in rows if r.get("Experiment"))
    assert values == ["0.61", "0.62", "0.63"], shown.stdout

    # One MLflow store: the repository's mlflow.db, none in the temporary copies.
    assert not list((repo_copy / ".dvc/tmp").rglob("mlflow.db"))
    mlflow.set_tracking_uri(f"sqlite:///{repo_copy / 'mlflow.db'}")
    try:
        runs = mlflow.search_runs(experiment_names=["alignx"], output_format="list",
                                  filter_string="tags.`alignx.pipeline.stage` = 'space'")
    finally:
        mlflow.set_tracking_uri(None)
    assert sorted(r.data.params["space.positive_threshold"] for r in runs) == ["0.61", "0.62", "0.63"]
    assert all(r.info.status == "FINISHED" and r.data.tags.get("dvc.experiment") for r in runs)
    # One Prefect history: the repository's database holds the three flow runs.
    with sqlite3.connect(repo_copy / ".prefect/prefect.db") as con:
        states = con.execute("SELECT flow_run.state_type FROM flow_run JOIN flow ON flow.id = flow_run.flow_id "
                             "WHERE flow.name = 'space'").fetchall()
    assert states == [("COMPLETED",)] * 3


def test_outside_folders_are_linked_where_an_experiment_copy_looks_for_them(tmp_path):
    (tmp_path / "shared/benchmarks").mkdir(parents=True)
    repo = tmp_path / "repo"
    (repo / ".dvc").mkdir(parents=True)
    (repo / "params.yaml").write_text("benchmarks:\n  root: ../shared/benchmarks\n")
    made = experiments.link_outside(repo)
    assert sorted(p.relative_to(repo).as_posix() for p in made) == [".dvc/tmp/exps/shared", ".dvc/tmp/exps/standalone/shared"]
    copy = repo / ".dvc/tmp/exps/standalone/tmpabc"  # where `dvc exp run --temp` runs
    copy.mkdir()
    assert (copy / "../shared/benchmarks").is_dir()
    assert experiments.link_outside(repo) == []  # idempotent
