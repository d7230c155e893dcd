"""With `alignx serve` / `alignx ui` up in a repo copy: `dvc repro` runs the stages through their Prefect
deployments, MLflow nests the stage runs under one pipeline run, both UIs show them in a real browser, a
failing gate fails the flow run, the MLflow run and `dvc repro`, and `alignx stop` stops everything."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import mlflow
import psutil
import pytest

from alignx.contracts import FLOWS
from alignx.env import free_port
from alignx.ops.deploy import dvc_stages
from tests.conftest import BIN, REPO, copy_repo, run_cli
from tests.pipeline import chromium

pytestmark = pytest.mark.slow

# The first two stages when both exist (personas is the second), else the first alone.
STAGES = [s for s in ("space", "personas") if s in FLOWS and s in dvc_stages(REPO / "dvc.yaml")]
ARTIFACTS = Path(os.environ.get("ALIGNX_TEST_ARTIFACTS", REPO / ".pytest_cache" / "artifacts")) / "orchestration"


@dataclass
class Served:
    repo: Path
    api_url: str
    mlflow_url: str

    def prefect(self):
        from alignx.ops import deploy

        return deploy.api(self.api_url)

    def stage_runs(self, stage: str):
        mlflow.set_tracking_uri(f"sqlite:///{self.repo / 'mlflow.db'}")
        return mlflow.search_runs(experiment_names=["alignx"], filter_string=f"tags.`alignx.pipeline.stage` = '{stage}'",
                                  order_by=["attributes.start_time DESC"], output_format="list")


def run_ok(repo: Path, *cmd: str) -> subprocess.CompletedProcess:
    result = run_cli(repo, *cmd, timeout=600)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A repo copy with the Prefect server + worker + deployments and the MLflow UI running."""
    repo = copy_repo(tmp_path_factory.mktemp("orchestration") / "repo")
    prefect_port, mlflow_port = free_port(), free_port()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None), env.pop("MLFLOW_ARTIFACT_LOCATION", None)
    # The MLflow UI starts beside the Prefect server (each takes seconds of mostly waiting).
    ui = subprocess.Popen([BIN / "alignx", "ui", "--port", str(mlflow_port)], cwd=repo, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        run_ok(repo, "alignx", "serve", "--port", str(prefect_port))
        out, _ = ui.communicate(timeout=300)
        assert ui.returncode == 0, out
        assert (repo / ".run/prefect.env").read_text().strip() == f"PREFECT_API_URL=http://127.0.0.1:{prefect_port}/api"
        for name in ("prefect-server", "mlflow-ui"):  # servers bind to loopback only
            cmd = json.loads((repo / f".run/{name}.json").read_text())["cmd"]
            assert cmd[cmd.index("--host") + 1] == "127.0.0.1", cmd
        yield Served(repo, f"http://127.0.0.1:{prefect_port}/api", f"http://127.0.0.1:{mlflow_port}")
    finally:
        pids = [json.loads(p.read_text())["pid"] for p in (repo / ".run").glob("*.json")]
        stopped = run_cli(repo, "alignx", "stop", timeout=120)
        assert stopped.returncode == 0, stopped.stderr
        assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        assert not (repo / ".run/prefect.env").exists()
        mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def pipeline(served):
    """`dvc repro` of the first stages with the server up (the output the other tests inspect)."""
    return run_ok(served.repo, "dvc", "repro", "--force", STAGES[-1])


def test_dvc_repro_triggers_deployments_and_nests_mlflow_runs(served, pipeline):
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    for stage in STAGES:
        assert f"alignx: stage {stage} COMPLETED (flow run " in pipeline.stdout, pipeline.stdout[-3000:]
    assert f"{served.api_url.removesuffix('/api')}/runs/flow-run/" in pipeline.stdout

    with served.prefect() as client:
        flow_runs = {
            stage: client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"stage:{stage}"])))
            for stage in STAGES
        }
        deployments = {d.name for d in client.read_deployments()}
    assert set(FLOWS) <= deployments, "every flow of the registry has a deployment"
    for stage, runs in flow_runs.items():
        assert [r.state.type.value for r in runs] == ["COMPLETED"], stage
        assert runs[0].deployment_id is not None

    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=served.repo, capture_output=True, text=True).stdout
    parents = set()
    for stage in STAGES:
        [run] = served.stage_runs(stage)
        assert run.info.status == "FINISHED"
        assert run.data.tags["prefect.flow_run_id"] == str(flow_runs[stage][0].id)
        assert run.data.tags["git.commit"].startswith(head.strip())
        parents.add(run.data.tags["mlflow.parentRunId"])
    assert len(parents) == 1, "the stages of one `dvc repro` share one parent run"
    parent = mlflow.get_run(parents.pop())
    assert parent.info.status == "FINISHED"
    assert parent.info.run_name == "pipeline"
    assert parent.data.tags["dvc.command"] == f"dvc repro --force {STAGES[-1]}"


def test_browser_shows_experiment_runs_metric_and_flow_runs(served, pipeline):
    binary = chromium.find_or_install()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    run = served.stage_runs("space")[0]
    experiment = run.info.experiment_id
    pages = [
        # The runs table lists the pipeline run (stage runs are nested under it, collapsed).
        ("mlflow-runs", f"{served.mlflow_url}/#/experiments/{experiment}/runs", ["alignx", "pipeline"]),
        # A stage run: its parent, status and a metric with its value.
        ("mlflow-space-run", f"{served.mlflow_url}/#/experiments/{experiment}/runs/{run.info.run_id}",
         ["space", "Parent run pipeline", "Finished", "dimensions 90"]),
        ("prefect-runs", f"{served.api_url.removesuffix('/api')}/runs",
         [*(f"{s} {s}-" for s in STAGES), "Completed", "Deployment"]),
        ("prefect-space-run", f"{served.api_url.removesuffix('/api')}/runs/flow-run/{run.data.tags['prefect.flow_run_id']}",
         ["space-", "Completed"]),
    ]
    missing = {}
    for name, url, expect in pages:
        shot = ARTIFACTS / f"{name}.png"
        text = chromium.render(binary, url, expect, shot)
        missing.update({name: [e for e in expect if e not in text]} if not all(e in text for e in expect) else {})
        assert shot.stat().st_size > 10_000, f"{shot}: no screenshot"
        if name in missing:
            missing[name].append(f"page text: {text[:1500]}")
    print(f"screenshots in {ARTIFACTS}")
    assert not missing, missing


def test_gate_failure_fails_flow_run_mlflow_run_and_dvc(served, pipeline):
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    out = served.repo / "data/space/preference_space.json"
    before = out.read_bytes()
    params = served.repo / "params.yaml"
    params.write_text(params.read_text().replace("positive_threshold: 0.6", "positive_threshold: 0.45"))
    try:
        failed = run_cli(served.repo, "dvc", "repro", "space", timeout=600)
    finally:
        subprocess.run(["git", "checkout", "params.yaml"], cwd=served.repo, check=True)
    assert failed.returncode != 0
    assert "alignx: stage space FAILED (flow run" in failed.stderr, failed.stderr[-3000:]
    assert "gate space_thresholds" in failed.stderr and "e.g. [0.45]" in failed.stderr, failed.stderr[-3000:]
    assert out.read_bytes() == before, "the failed gate left the previous output in place"

    with served.prefect() as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=["stage:space"])))
    assert sorted(r.state.type.value for r in runs) == ["COMPLETED", "FAILED"]

    latest = served.stage_runs("space")[0]
    assert latest.info.status == "FAILED"
    assert latest.data.tags["prefect.flow_run_id"] == str(next(r.id for r in runs if r.state.is_failed()))
    parent = mlflow.get_run(latest.data.tags["mlflow.parentRunId"])
    assert parent.info.status == "FAILED" and parent.data.tags["dvc.command"] == "dvc repro space"
