"""The DeepSpeed DPO loop in one CPU process: it learns, every ZeRO stage computes the same objective, and
each step's metrics reach MLflow."""

import json
from dataclasses import replace

import mlflow
import pytest
from transformers import AutoModelForCausalLM

from tests.toy import ToySize, write_inputs
from alignx.training.trainer import TrainConfig, TrainPaths, cosine_with_warmup, train

SIZE = ToySize(vocab=128, hidden=32, layers=2, heads=2)
CFG = TrainConfig(lr=2e-3, global_batch=8, micro_batch=4, checkpoint_every=100)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    return write_inputs(root, SIZE, n_train=8, n_val=8, prompt_len=(8, 20), response_len=(4, 12))


def _paths(toy, tmp_path, name):
    return TrainPaths(**{**toy, "export": str(tmp_path / name / "model"), "checkpoints": str(tmp_path / name / "ckpt")})


def test_steps_on_a_fixed_batch_lower_the_loss_and_log_every_step(toy, tmp_path, mlflow_store):
    # 8 examples = one global batch: every step sees the same batch.
    with mlflow.start_run() as run:
        summary = train(replace(CFG, epochs=6), _paths(toy, tmp_path, "fixed"), run.info.run_id)
    history = [m.value for m in sorted(mlflow.MlflowClient().get_metric_history(run.info.run_id, "loss"), key=lambda m: m.step)]
    assert len(history) == 6
    assert all(b < a for a, b in zip(history, history[1:])), history
    assert summary["rewards/accuracy"] > 0.5 and summary["rewards/margin"] > 0
    logged = mlflow.get_run(run.info.run_id).data.metrics
    for key in ("rewards/accuracy", "rewards/margin", "rewards/chosen", "rewards/rejected", "lr", "grad_norm",
                "tokens_per_second", "mfu", "mfu_fp32_peak", "mfu_bf16_peak", "val/loss", "val/accuracy"):
        assert key in logged, key
    assert logged["grad_norm"] > 0
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "fixed" / "model")  # plain transformers, no DeepSpeed
    assert model.config.vocab_size == SIZE.vocab
    assert json.loads((tmp_path / "fixed" / "model" / "train_summary.json").read_text())["steps"] == 6


def test_zero_stages_give_the_same_step0_loss(toy, tmp_path):
    losses = {z: train(replace(CFG, zero_stage=z, max_steps=1), _paths(toy, tmp_path, f"z{z}"))["loss"] for z in (0, 2, 3)}
    assert losses[0] == pytest.approx(0.6931, abs=1e-3)  # policy == reference at step 0: -log sigmoid(0)
    assert losses[2] == pytest.approx(losses[0], abs=1e-6) and losses[3] == pytest.approx(losses[0], abs=1e-6), losses


def test_cosine_schedule_warms_up_then_decays_to_min_ratio():
    f = cosine_with_warmup(total=100, warmup_ratio=0.1, min_ratio=0.1)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0) and f(55) == pytest.approx(0.55)
    assert f(100) == pytest.approx(0.1)
