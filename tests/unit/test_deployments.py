"""Deployments follow the stage registry and dvc.yaml; a configured server is used or reported, never skipped."""

from __future__ import annotations

import pytest

from alignx.env import free_port
from alignx.ops import cli, deploy
from tests.conftest import REPO

DVC_YAML = """
stages:
  space:
    cmd: alignx run space
  train:
    foreach: [ica, pba]
    do:
      cmd: alignx run train@${item}
  evaluate:
    foreach:
      ica: {x: 1}
      pba: {x: 2}
    do:
      cmd: alignx run evaluate@${key}
"""


def test_dvc_stages_expands_foreach(tmp_path):
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    assert deploy.dvc_stages(tmp_path / "dvc.yaml") == ["space", "train@ica", "train@pba", "evaluate@ica",
                                                         "evaluate@pba"]


def test_one_deployment_per_registered_flow_including_stages_added_later(tmp_path, monkeypatch):
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    monkeypatch.setitem(cli.FLOWS, "train", "flows.train:train_flow")
    monkeypatch.setitem(cli.FLOWS, "later", "flows.later:later_flow")  # added after this module was written
    specs = {s.name: s for s in deploy.deployment_specs(tmp_path / "dvc.yaml")}
    assert set(specs) == set(cli.FLOWS)
    assert specs["train"].entrypoint == "flows.train.train_flow", "a module path: nothing is copied"
    assert specs["train"].stages == ["train@ica", "train@pba"], "a foreach stage is one deployment + variant"
    assert specs["later"].stages == [] and specs["later"].entrypoint == "flows.later.later_flow"


def test_every_dvc_stage_of_the_repo_has_a_deployment():
    bases = {s.name for s in deploy.deployment_specs(REPO / "dvc.yaml")}
    missing = [s for s in deploy.dvc_stages(REPO / "dvc.yaml") if s.split("@")[0] not in bases]
    assert not missing, f"dvc.yaml stages without a flow in alignx.ops.cli.FLOWS: {missing}"


def test_server_configuration_sources(tmp_path, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    env_file = tmp_path / "prefect.env"
    assert deploy.configured_api(env_file) is None, "no server: stages run in process"
    env_file.write_text("PREFECT_API_URL=http://127.0.0.1:4200/api\n")
    assert deploy.configured_api(env_file) == ("http://127.0.0.1:4200/api", str(env_file))
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4300/api/")
    assert deploy.configured_api(env_file)[0] == "http://127.0.0.1:4300/api"
    monkeypatch.delenv("PREFECT_API_URL")
    env_file.write_text("SOMETHING=else\n")
    with pytest.raises(deploy.DeployError, match="prefect.env: no PREFECT_API_URL"):
        deploy.configured_api(env_file)


def test_a_configured_server_that_is_down_is_an_error(tmp_path, monkeypatch, capsys):
    port = free_port()  # a port nothing listens on
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".run").mkdir()
    (tmp_path / ".run/prefect.env").write_text(f"PREFECT_API_URL=http://127.0.0.1:{port}/api\n")
    assert cli.main(["run", "space"]) == 1
    err = capsys.readouterr().err
    where = (tmp_path / ".run/prefect.env").resolve()  # the repository's file, named absolutely
    assert f"Prefect server http://127.0.0.1:{port}/api (configured by {where}) is not reachable" in err
    assert "make serve" in err
    assert not (tmp_path / "data").exists(), "the stage did not run in process instead"


def test_ui_address_of_a_flow_run():
    assert deploy.ui_url("http://127.0.0.1:4200/api", "abc") == "http://127.0.0.1:4200/runs/flow-run/abc"
