"""The DeepSpeed DPO loop in one CPU process: it learns, every ZeRO stage computes the same objective, and
each step's metrics reach MLflow."""

import json
from dataclasses import replace

import mlflow
import torch
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


def test_packed_pairs_train_exactly_like_two_sequences(toy, tmp_path):
    # One `prompt + chosen + rejected` row per pair: the same objective and updates, fewer positions run.
    runs = {p: train(replace(CFG, packed=p, epochs=3), _paths(toy, tmp_path, f"packed{p}")) for p in (True, False)}
    for key in ("loss", "rewards/margin", "val/loss", "val/accuracy"):
        assert runs[True][key] == pytest.approx(runs[False][key], rel=1e-4, abs=1e-5), key
    # Throughput counts the same sequence tokens; the packed run computes fewer FLOPs per token.
    assert runs[True]["mean/flops_per_second"] / runs[True]["mean/tokens_per_second"] < \
        runs[False]["mean/flops_per_second"] / runs[False]["mean/tokens_per_second"]


def test_lora_trains_only_adapters_and_exports_a_merged_plain_model(toy, tmp_path):
    from alignx.config import LoraConfig

    cfg = replace(CFG, epochs=2, lora=LoraConfig(rank=4, alpha=8.0, target_modules=("q_proj", "v_proj")))
    summary = train(cfg, _paths(toy, tmp_path, "lora"))
    assert summary["first_step_loss"] == pytest.approx(0.6931, abs=1e-3)  # B = 0: the policy starts as the reference
    base = AutoModelForCausalLM.from_pretrained(toy["base"]).state_dict()
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "lora" / "model").state_dict()  # no peft needed
    assert merged.keys() == base.keys()
    changed = {k for k in base if not torch.equal(base[k], merged[k])}
    assert changed and all(k.endswith(("q_proj.weight", "v_proj.weight")) for k in changed), changed
    adapter = tmp_path / "lora" / "model" / "adapter"
    assert (adapter / "adapter_config.json").exists() and json.loads((adapter / "adapter_config.json").read_text())["r"] == 4
    # Evaluation scores the base + the unmerged adapter: in float32 the same policy as the merged folder.
    from alignx.modeling.model import load_policy

    policy, _ = load_policy(tmp_path / "lora" / "model", toy["base"], torch.float32)
    assert type(policy).__name__ == "PeftModel"
    ids = torch.arange(1, 17)[None]
    merged_logits = AutoModelForCausalLM.from_pretrained(tmp_path / "lora" / "model")(ids).logits
    assert torch.allclose(policy(input_ids=ids).logits, merged_logits, atol=1e-4)
    # Frozen weights need no weight gradients: 4 N FLOPs per token instead of 6 N.
    assert summary["mean/flops_per_second"] > 0


def test_lora_names_target_modules_the_model_lacks(toy, tmp_path):
    from alignx.config import LoraConfig

    with pytest.raises(ValueError, match=r"target_modules: \['qkv'\] are not Linear layers"):
        train(replace(CFG, lora=LoraConfig(rank=2, target_modules=("qkv",))), _paths(toy, tmp_path, "bad"))


def test_consistency_term_trains_counterfactuals_beside_their_originals_and_logs_the_gap(toy, tmp_path, mlflow_store):
    """train.consistency: a run whose train rows hold counterfactuals (here each pair under two other prompts,
    `~neutral` and its other pole `~neutral_pole`) plans them with their originals (8 units of 3 rows: one global
    batch of 8 units a step) and logs the term, its ramped weight factor and the mean |gap| of the neutral pairs and
    of the poles every step (no contrast pair: none logged)."""
    import numpy as np
    import pandas as pd

    from alignx.config import ConsistencyConfig
    from alignx.inputs.counterfactual import example_id

    examples, reference = pd.read_parquet(toy["train_examples"]), pd.read_parquet(toy["train_reference"])
    flipped = examples.assign(example_id=[example_id(r, "neutral") for r in examples["record_id"]],
                              prompt_ids=[np.append(p[::-1], p[:2]).astype(np.int32) for p in examples["prompt_ids"]])
    pole = examples.assign(example_id=[example_id(r, "neutral_pole") for r in examples["record_id"]],
                           prompt_ids=[np.append(p[:2], p[::-1]).astype(np.int32) for p in examples["prompt_ids"]])
    paired = pd.concat([examples, flipped, pole]).reset_index(drop=True)
    (tmp_path / "in").mkdir()
    paired.to_parquet(tmp_path / "in" / "train.parquet")
    # The counterfactual's reference log-probs: the original's (not the flipped prompt's own, so the margins differ
    # from the first step and the term is not trivially 0).
    pd.concat([reference, reference.assign(example_id=flipped["example_id"].to_numpy()),
               reference.assign(example_id=pole["example_id"].to_numpy())]).to_parquet(tmp_path / "in" / "ref.parquet")
    paths = replace(_paths(toy, tmp_path, "cons"), train_examples=str(tmp_path / "in" / "train.parquet"),
                    train_reference=str(tmp_path / "in" / "ref.parquet"))
    cfg = replace(CFG, epochs=3, consistency=ConsistencyConfig(neutral=1.0, neutral_pole=1.0, ramp=2 / 3))
    with mlflow.start_run() as run:
        summary = train(cfg, paths, run.info.run_id)
    history = lambda key: [m.value for m in sorted(mlflow.MlflowClient().get_metric_history(run.info.run_id, key),  # noqa: E731
                                                   key=lambda m: m.step)]
    assert summary["steps"] == 3  # one step an epoch (the plain plan of 16 rows would take two)
    assert len(history("consistency/loss")) == 3 and len(history("consistency/neutral_gap")) == 3
    assert history("consistency/tie") == [0.0, 0.5, 1.0] and history("consistency/loss")[0] == 0.0  # ramp: 2 of 3 steps
    assert all(np.isfinite(history("consistency/neutral_gap"))) and history("consistency/loss")[-1] >= 0
    assert len(history("consistency/neutral_pole_gap")) == 3 and all(np.isfinite(history("consistency/neutral_pole_gap")))
    assert "consistency/contrast_gap" not in mlflow.get_run(run.info.run_id).data.metrics  # no contrast pairs: nan, not logged
