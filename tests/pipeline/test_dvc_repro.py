"""End to end through DVC: `dvc repro` runs the stage's CLI, which runs its Prefect flow and MLflow run."""

import json

import mlflow
import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow


def stage_runs() -> list:
    """The stage runs (the parent run `dvc repro` opens around them is tested in test_orchestration.py)."""
    return mlflow.search_runs(experiment_names=["alignx"], filter_string="tags.`alignx.pipeline.stage` = 'space'",
                              output_format="list")


def test_dvc_repro_space_then_up_to_date_then_gate_failure(repo_copy):
    result = run_cli(repo_copy, "dvc", "repro", "space")
    assert result.returncode == 0, result.stdout + result.stderr
    out = repo_copy / "data/space/preference_space.json"
    assert out.exists(), result.stdout + result.stderr
    assert json.loads(out.read_text())["n_dims"] == 90
    lock = (repo_copy / "dvc.lock").read_text()
    assert "space:" in lock and "preference_space.json" in lock

    mlflow.set_tracking_uri(f"sqlite:///{repo_copy / 'mlflow.db'}")
    try:
        runs = stage_runs()
        assert [r.info.status for r in runs] == ["FINISHED"]
        run = runs[0]
        assert run.data.params["space.positive_threshold"] == "0.6"
        assert run.data.tags["git.commit"] != "unknown"
        artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
        assert "preference_space.json" in artifacts
        assert (repo_copy / "mlartifacts").is_dir(), "artifacts land in the repo's mlartifacts/"

        # Nothing changed: DVC skips the stage and no new run appears.
        before = out.read_bytes()
        again = run_cli(repo_copy, "dvc", "repro", "space")
        assert again.returncode == 0 and "didn't change" in again.stdout, again.stdout
        assert out.read_bytes() == before
        assert len(stage_runs()) == 1

        # A param the gate rejects: dvc repro fails, prints the gate's summary, keeps the old output.
        params = repo_copy / "params.yaml"
        params.write_text(params.read_text().replace("positive_threshold: 0.6", "positive_threshold: 0.3"))
        failed = run_cli(repo_copy, "dvc", "repro", "space")
        assert failed.returncode != 0
        assert "gate space_thresholds" in failed.stderr and "column 'positive'" in failed.stderr, failed.stderr
        assert out.read_bytes() == before
        statuses = sorted(r.info.status for r in stage_runs())
        assert statuses == ["FAILED", "FINISHED"]
    finally:
        mlflow.set_tracking_uri(None)
