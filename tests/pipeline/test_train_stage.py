"""Training as the pipeline runs it: a run killed with SIGKILL resumes to the same result, two ranks under the
`deepspeed` launcher compute what one process does, and the `train@ica` flow exports, gates and registers."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM, AutoTokenizer

from alignx.training import model_gate
from alignx.pipeline.launcher import DIST_VARS
from alignx.training.launch import run_training
from tests.records import record
from tests.toy import ToySize, write_inputs
from alignx.training.trainer import TrainConfig, TrainPaths, train

SIZE = ToySize(vocab=128, hidden=32, layers=2, heads=2)
# Final losses of a resumed run and of an uninterrupted one agree to this (CPU kernels are deterministic at a
# fixed thread count, and every state that matters is restored, so the observed difference is 0).
RESUME_TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    return write_inputs(root, SIZE, n_train=64, n_val=16, prompt_len=(8, 20), response_len=(4, 12))


def _paths(toy, root: Path) -> TrainPaths:
    return TrainPaths(**{**toy, "export": str(root / "model"), "checkpoints": str(root / "ckpt")})


def _trainer_process(spec: Path, threads: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in DIST_VARS}
    env.update(DS_ACCELERATOR="cpu", OMP_NUM_THREADS=str(threads))
    return subprocess.Popen([sys.executable, "-m", "alignx.training.trainer", "--spec", str(spec)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
def test_run_killed_with_sigkill_resumes_to_the_same_final_loss(toy, tmp_path):
    cfg = TrainConfig(lr=2e-3, global_batch=4, micro_batch=4, epochs=12, max_steps=0, checkpoint_every=8, threads=1)
    expected = train(cfg, _paths(toy, tmp_path / "straight"))  # 192 steps, uninterrupted

    paths = _paths(toy, tmp_path / "killed")
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"config": asdict(cfg), "paths": asdict(paths)}))
    proc = _trainer_process(spec, threads=1)
    latest = Path(paths.checkpoints) / "latest"
    deadline = time.time() + 120
    while not latest.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    out = proc.communicate()[0]
    assert proc.returncode == -signal.SIGKILL, out[-2000:]
    assert not Path(paths.export).exists()  # killed mid-training

    proc = _trainer_process(spec, threads=1)
    out = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, out[-3000:]
    resumed = json.loads((Path(paths.export) / "train_summary.json").read_text())
    assert 0 < resumed["resumed_from_step"] < 192, out[-2000:]
    assert "resumed from" in out
    assert resumed["loss"] == pytest.approx(expected["loss"], abs=RESUME_TOLERANCE)
    assert resumed["first_step_loss"] == expected["first_step_loss"]  # the run's step 0, not the resumed step
    assert resumed["val/loss"] == pytest.approx(expected["val/loss"], abs=RESUME_TOLERANCE)


@pytest.mark.slow
def test_two_ranks_under_the_deepspeed_launcher_match_one_process(toy, tmp_path):
    cfg = TrainConfig(lr=2e-3, global_batch=8, micro_batch=4, zero_stage=2, max_steps=4, checkpoint_every=100)
    one = train(cfg, _paths(toy, tmp_path / "one"))
    two = run_training(replace(cfg, num_processes=2), _paths(toy, tmp_path / "two"))
    assert two["loss"] == pytest.approx(one["loss"], abs=1e-4)
    assert two["rewards/margin"] == pytest.approx(one["rewards/margin"], abs=1e-4)
    AutoModelForCausalLM.from_pretrained(tmp_path / "two" / "model")


def test_gate_rejects_non_finite_weights(toy, tmp_path):
    model = AutoModelForCausalLM.from_pretrained(toy["base"])
    with torch.no_grad():
        model.model.layers[0].mlp.up_proj.weight[0, 0] = float("nan")
    model.save_pretrained(tmp_path / "bad")
    AutoTokenizer.from_pretrained(toy["base"]).save_pretrained(tmp_path / "bad")
    results = {r.name: r for r in model_gate.gate_model(tmp_path / "bad", Path(toy["base"]))}
    assert results["model_loads"].success  # it loads, but
    assert not results["model_weights_finite"].success
    assert "rows [" in results["model_weights_finite"].summary()


@pytest.mark.slow
def test_train_flow_exports_gates_and_registers_the_aligner(toy, workdir, monkeypatch):
    from flows.train import train_flow

    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.2")  # the toy run lasts seconds

    for kind, split in (("format", "train"), ("format", "val"), ("reference", "train"), ("reference", "val")):
        dest = workdir / "data" / kind / "ica" / f"{split}.parquet"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(Path(toy[f"{split}_{'examples' if kind == 'format' else 'reference'}"]).read_bytes())
    (workdir / "models").mkdir()
    os.symlink(toy["base"], workdir / "models" / "base")
    params = yaml.safe_load(Path("params.yaml").read_text())
    params["train"].update(global_batch=8, micro_batch=4, lr=2e-3, checkpoint_every=3)
    Path("params.yaml").write_text(yaml.safe_dump(params))

    state = train_flow("ica", return_state=True)
    assert state.is_completed(), state.result(raise_on_failure=False)
    # The registered version scores AlignX records: implicit rewards of the aligner against its reference.
    scorer = mlflow.pyfunc.load_model("models:/alignx-ica@candidate")
    records = pd.DataFrame([record(i, split="test") for i in range(3)])
    scores = scorer.predict(records)
    assert list(scores.columns) == ["record_id", "reward_chosen", "reward_rejected", "margin", "prefers_chosen"]
    assert scores["record_id"].tolist() == records["record_id"].tolist()
    assert np.isfinite(scores[["reward_chosen", "reward_rejected"]].to_numpy()).all()
    assert (scores["reward_chosen"] != 0).all()  # the policy moved away from the reference
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['chosen'\]"):
        scorer.predict(records.drop(columns="chosen"))
    run = mlflow.search_runs(experiment_names=["alignx"], filter_string="tags.`alignx.pipeline.stage` = 'train@ica'",
                             output_format="list")[0]
    client = mlflow.MlflowClient()
    assert len(client.get_metric_history(run.info.run_id, "rewards/accuracy")) == 8  # 64 examples / 8 per step
    # val accuracy as a curve: train.val_points (4) measures, the last at the end (step 8).
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val/accuracy")] == [2, 4, 6, 8]
    assert run.data.metrics["final/rewards/accuracy"] > 0.5
    assert any(k.startswith("system/") for k in run.data.metrics), sorted(run.data.metrics)
    assert run.data.params["train.zero_stage"] == str(params["train"]["zero_stage"])  # the params section, logged
    assert (workdir / "models" / "ica" / "model.safetensors").exists()
    assert not (workdir / "checkpoints" / "train" / "ica").exists()
    assert client.get_model_version_by_alias("alignx-ica", "candidate").run_id == run.info.run_id
    # The registered model as a registry user expects it: named inputs, a description and a model card.
    info = mlflow.models.get_model_info("models:/alignx-ica@candidate")
    assert info.signature is not None and {"prompt", "chosen", "rejected"} <= set(info.signature.inputs.input_names())
    card = client.get_model_version_by_alias("alignx-ica", "candidate").description
    for line in ("| base model | tiny |", "| data: source | synthetic |", "| data: train examples | 64 |",
                 f"| lr | {params['train']['lr']} |", "| steps | 8.0 |", "template hash"):
        assert line in card, card
    assert "ICA aligner" in client.get_registered_model("alignx-ica").description
    # One spelling per setting: the format section as the stage logs it, not again as the model's config.
    assert "format.max_len" in run.data.params and not any("/" in k for k in run.data.params), sorted(run.data.params)
    # What `dvc exp show` compares runs on: the same end-of-run values as the MLflow run.
    kept = json.loads((workdir / "metrics" / "train_ica.json").read_text())
    assert kept["steps"] == 8 and kept["val/accuracy"] == round(run.data.metrics["final/val/accuracy"], 4)
