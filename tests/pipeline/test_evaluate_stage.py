"""Stage evaluate@{ica,pba} in process on a tiny world: real Prefect, MLflow, GX and transformers models.

The world is built with the project's own upstream functions (formatting, tokenizer, log-probs) on
hand-made AlignX records, so the stage reads exactly the contract files of docs/architecture.md."""

import json
import shutil
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from mlflow import MlflowClient
from transformers import LlamaConfig, LlamaForCausalLM

from alignx.annotation.training import fit
from alignx.config import DirectionsConfig, FormatConfig, SpaceConfig, TrainConfig
from alignx.evaluation import metrics
from alignx.evaluation.intervals import Bootstrap
from alignx.inputs.examples import format_records
from alignx.inputs.prompts import DEMO, DIRECTION, PAIR, UGC
from alignx.modeling.logprobs import score_examples
from alignx.space import DIMENSIONS, GROUP_SLICES, verbalize
from alignx.modeling.tokenizer import pad_id, train_tokenizer
from alignx.reward import implicit_reward
from alignx.training import registry
from tests.unit.test_annotation import marker_items

MAX_LEN = 512
# The format settings the world's eval inputs are rendered with (and the registered scorer renders with).
FORMAT = FormatConfig(seed=0, max_len=MAX_LEN, pba_train_profile="inferred", modes={"ugc": 1, "pair": 1, "demo": 1, "mixed": 1})
WORDS = ("river stone apple quiet loud music game code law pet travel health story car food school news home "
         "money campus tech feeling joke dance craft photo art camp fashion sport science movie").split()


def _text(rng, n):
    return " ".join(rng.choice(WORDS, n))


def _direction(rng):
    return rng.choice([0.0, 0.5, 1.0], 90, p=[0.1, 0.8, 0.1]).tolist()


def _record(rng, split, i):
    return {
        "record_id": f"{split}-{i}", "user_id": f"user-{split}-{i}", "split": split,
        "prompt": _text(rng, 8), "chosen": _text(rng, 6), "rejected": _text(rng, 5),
        DIRECTION: _direction(rng), DEMO: f"A person who enjoys {_text(rng, 2)}.",
        UGC: [{"prompt": _text(rng, 5), "comment": _text(rng, 4), DIRECTION: _direction(rng)}
              for _ in range(int(rng.integers(1, 5)))],
        PAIR: [{"prompt": _text(rng, 5), "chosen": _text(rng, 3), "rejected": _text(rng, 3), DIRECTION: _direction(rng)}
               for _ in range(int(rng.integers(1, 5)))],
        "profile": "", "ground_truth_persona": "",
    }


def _benchmark_record(rng, i):
    """The paper's benchmark shape after import: a given profile, PAIR items without direction vectors."""
    return {
        "record_id": f"p-soups-{i}", "user_id": f"p-soups-user-{i}", "split": "p-soups",
        "prompt": _text(rng, 8), "chosen": _text(rng, 6), "rejected": _text(rng, 5),
        DIRECTION: None, DEMO: "", UGC: [],
        PAIR: [{"prompt": _text(rng, 5), "chosen": _text(rng, 3), "rejected": _text(rng, 3), DIRECTION: None}],
        "profile": verbalize(_direction(rng)), "ground_truth_persona": "Be funny.",
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """data/{pairs,benchmarks,eval}, data/personas/users.parquet and models/{base,ica,pba}: splits test (16
    records) and novel (4), benchmark p-soups (4); one test user is missing from users.parquet."""
    root = tmp_path_factory.mktemp("world")
    rng = np.random.default_rng(0)
    splits = {"test": [_record(rng, "test", i) for i in range(16)], "novel": [_record(rng, "novel", i) for i in range(4)]}
    (root / "data/pairs").mkdir(parents=True)
    for split, records in splits.items():
        pd.DataFrame(records).to_parquet(root / f"data/pairs/{split}.parquet")
    (root / "data/benchmarks").mkdir()
    pd.DataFrame([_benchmark_record(rng, i) for i in range(4)]).to_parquet(root / "data/benchmarks/p-soups.parquet")
    users = [{"user_id": r["user_id"], "split": split, "direction": _direction(rng)}
             for split, records in splits.items() for r in records if r["user_id"] != "user-test-3"]
    (root / "data/personas").mkdir()
    pd.DataFrame(users).to_parquet(root / "data/personas/users.parquet")
    record_files = {**{s: root / f"data/pairs/{s}.parquet" for s in splits}, "p-soups": root / "data/benchmarks/p-soups.parquet"}
    texts = [r[k] for rs in splits.values() for r in rs for k in ("prompt", "chosen", "rejected")] + WORDS
    labels = [label for d in DIMENSIONS for label in (d.positive, d.negative)]  # profiles stay short
    tokenizer = train_tokenizer((texts + labels) * 3, vocab_size=1000)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=MAX_LEN,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=pad_id(tokenizer))
    for seed, name in enumerate(("base", "ica", "pba")):
        torch.manual_seed(seed)
        LlamaForCausalLM(config).save_pretrained(root / "models" / name)
        tokenizer.save_pretrained(root / "models" / name)
    # The direction annotator evaluate@pba measures (direction_inference), trained on marker phrases.
    fit(marker_items(200, 0), marker_items(20, 1), DirectionsConfig(epochs=2, min_count=1)).annotator.save(
        root / "models/annotator")
    base = LlamaForCausalLM.from_pretrained(root / "models/base")
    cfg = FORMAT
    for aligner in ("ica", "pba"):
        for split, source in record_files.items():
            records = pd.read_parquet(source).to_dict("records")
            examples = format_records(records, aligner, tokenizer, cfg, SpaceConfig())
            assert (examples["problem"] == "").all(), examples["problem"].tolist()
            examples = examples.drop(columns=["problem", "length"])
            chosen, rejected = score_examples(base, examples, 16, pad_id(tokenizer), progress=False)
            group = "benchmarks" if split == "p-soups" else "splits"
            for kind, frame in (("format", examples), ("reference", pd.DataFrame(
                    {"example_id": examples["example_id"], "ref_chosen": chosen, "ref_rejected": rejected}))):
                (root / "data/eval" / group / kind / aligner).mkdir(parents=True, exist_ok=True)
                frame.to_parquet(root / "data/eval" / group / kind / aligner / f"{split}.parquet")
    return root


def _prepare(workdir: Path, world: Path, pba_model: str = "pba") -> Path:
    """The workdir with the world's inputs (models/pba: the world's model named `pba_model`), small experiment sizes
    (params as the repo declares them), and a registered `alignx-pba` candidate."""
    shutil.copytree(world / "data", workdir / "data")
    (workdir / "models").mkdir()
    for name, source in (("base", "base"), ("ica", "ica"), ("pba", pba_model), ("annotator", "annotator")):
        (workdir / "models" / name).symlink_to(world / "models" / source)
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["evaluate"].update(robustness_records=4, control_pairs_per_dim=2, control_dims=[16, 47, 75], device="cpu")
    params.setdefault("format", {})["max_len"] = MAX_LEN
    params["benchmarks"] = {"root": "../shared", "files": {"p-soups": "../shared/benchmarks/p-soups.json"}}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    client = MlflowClient()
    client.create_registered_model("alignx-pba")
    client.create_model_version("alignx-pba", source=str(world / "models" / pba_model))
    client.set_registered_model_alias("alignx-pba", "candidate", "1")
    return workdir


@pytest.fixture
def stage_dir(workdir, world) -> Path:
    return _prepare(workdir, world)


def _scores(stage: str, eval_set: str) -> pd.DataFrame:
    """The per-pair score table the stage logged to its MLflow run."""
    run = mlflow.search_runs(experiment_names=["alignx"], filter_string=f"tags.`alignx.pipeline.stage` = '{stage}'",
                             output_format="list")[0]
    return pd.read_parquet(mlflow.artifacts.download_artifacts(run_id=run.info.run_id,
                                                               artifact_path=f"scores/{eval_set}.parquet"))


def _test_accuracy(stage_dir: Path, model: Path, beta: float = 0.1) -> float:
    """The aligner's test accuracy computed here, apart from the stage: `model` scores the formatted test examples,
    the reference log-probs come from their file."""
    examples = pd.read_parquet(stage_dir / "data/eval/splits/format/pba/test.parquet")
    ref = pd.read_parquet(stage_dir / "data/eval/splits/reference/pba/test.parquet").set_index("example_id")
    ref = ref.loc[examples["example_id"]]
    policy = LlamaForCausalLM.from_pretrained(model).eval()
    # The world's models pad with the tokenizer's pad id (their config's pad_token_id).
    chosen, rejected = score_examples(policy, examples, 16, policy.config.pad_token_id, progress=False)
    margin = (implicit_reward(np.asarray(chosen), ref["ref_chosen"].to_numpy(), beta)
              - implicit_reward(np.asarray(rejected), ref["ref_rejected"].to_numpy(), beta))
    return float((margin > 0).mean())


def _check_readers(doc: dict, aligner: str) -> None:
    """The readers and the evidence split: on test every pair is judged, on the benchmark (no direction
    vectors, no users) only the marker reader, which reads text."""
    readers = {"tone", "tone_oracle", "inferred_profile", "user_profile"}
    readers |= {"marker_overlap"} if aligner == "ica" else set()
    assert set(doc["readers"]) == readers
    for name, r in doc["readers"].items():
        n = 15 if name == "user_profile" else 16  # user-test-3 is not in users.parquet
        assert r["n"] == n and 0 <= r["accuracy"] <= 1 and 0 <= r["aligner"] <= 1, name
    assert doc["readers"]["tone_oracle"]["accuracy"] >= 0.5  # the pair's own signs never contradict it
    assert set(doc["evidence"]) == {"favours", "silent", "misleads"}
    assert sum(e["n"] for e in doc["evidence"].values()) == 16
    assert doc["eval_sets"]["novel"]["readers"]["inferred_profile"]["n"] == 4
    bench = doc["eval_sets"]["p-soups"]
    assert bench["readers"]["tone"] == {"accuracy": None, "aligner": None, "n": 0}
    assert sum(e["n"] for e in bench["evidence"].values()) == 0
    if aligner == "ica":
        assert bench["readers"]["marker_overlap"]["n"] == 4


def _check_intervals(doc: dict) -> int:
    """Every `<figure>_ci_low` / `_ci_high` pair brackets its figure (a dict of figures: each of its entries) and
    every p-value is a fraction; returns how many figures carry an interval."""
    checked = 0
    for key, value in doc.items():
        if isinstance(value, dict):
            checked += _check_intervals(value)
        if not key.endswith("_ci_low"):
            if key.endswith("_p_value") and value is not None:
                assert 0 < value <= 1, key
            continue
        base = key.removesuffix("_ci_low")
        figure, high = doc[base], doc[f"{base}_ci_high"]
        pairs = [(figure[k], value[k], high[k]) for k in value] if isinstance(value, dict) else [(figure, value, high)]
        for v, lo, hi in pairs:
            assert lo - 1e-9 <= v <= hi + 1e-9, (key, lo, v, hi)
            checked += 1
    return checked


def _check_interval_keys(doc: dict) -> None:
    """The intervals of issue 26 beside the figures the stage publishes (both aligners)."""
    test = doc["test"]
    for key in ("aligner", "base_no_persona", "base_persona", "best_baseline", "gain", "gain_vs_base_persona",
                "gain_vs_base_no_persona"):
        assert {f"{key}_ci_low", f"{key}_ci_high"} <= set(test), key
    assert {"gain_p_value", "gain_vs_base_persona_p_value", "gain_vs_base_no_persona_p_value"} <= set(test)
    assert test["clusters"] == 16 and doc["intervals"] == {"level": 0.95, "resamples": 1000}
    for name in ("novel", "p-soups"):
        assert {"aligner_ci_low", "gain_ci_high", "gain_p_value"} <= set(doc["eval_sets"][name]), name
    for mode, row in doc["test_by_mode"].items():
        assert {"aligner_ci_low", "aligner_ci_high", "gain", "gain_ci_low", "gain_p_value"} <= set(row), mode
        assert row["gain"] == pytest.approx(row["aligner"] - max(row["base_no_persona"], row["base_persona"]))
    assert {"accuracy_ci_low", "aligner_ci_high"} <= set(doc["readers"]["inferred_profile"])
    assert set(doc["robustness"]) == {"ugc", "pair", "ugc_ci_low", "ugc_ci_high", "pair_ci_low", "pair_ci_high"}
    assert set(doc["targets_within_noise"]) == set(doc["targets_met"]) - {k for k in doc["targets_met"]
                                                                          if k.startswith("generation")}
    assert _check_intervals(doc) > 40


def _run(aligner):
    from flows.evaluate import evaluate_flow

    return evaluate_flow(aligner, return_state=True)


def test_evaluate_pba_publishes_metrics_plots_report_and_moves_champion(stage_dir):
    state = _run("pba")
    assert state.is_completed(), state.result(raise_on_failure=False)
    doc = json.loads((stage_dir / "metrics/pba.json").read_text())
    assert doc["test"]["n"] == 16 and doc["eval_sets"]["novel"]["n"] == 4 and doc["eval_sets"]["p-soups"]["n"] == 4
    assert set(doc["test_by_mode"]) <= {"ugc", "pair", "mixed"}  # PBA never shows DEMO
    assert sum(m["n"] for m in doc["test_by_mode"].values()) == 16
    assert doc["oracle"]["n"] == 16 and 0 <= doc["oracle"]["accuracy"] <= 1
    c = doc["controllability"]
    assert c["pairs_non_neutral"] > 0 and c["pairs_neutral"] > 0 and 0 <= c["flip_neutral"] <= 1
    assert c["pairs_placebo"] == c["pairs_non_neutral"] and 0 <= c["placebo_follows"] <= 1
    assert c["follows_specific"] == pytest.approx(c["follows_non_neutral"] - c["placebo_follows"])
    _check_readers(doc, "pba")
    assert set(doc["robustness"]["ugc"]) >= {"0", "1", "2"} and doc["speed"]["pairs_per_second"] > 0
    for name in ("accuracy.csv", "robustness.csv", "controllability.csv", "accuracy.png", "controllability.png"):
        assert (stage_dir / "plots/pba" / name).stat().st_size > 0
    text = (stage_dir / "reports/pba.md").read_text()
    assert "| PBA (this run) |" in text and "## Readers" in text and "| inferred_profile |" in text
    # PBA with predicted history directions, beside the labelled figures (issue 25).
    di = doc["direction_inference"]
    assert set(di["macro_f1"]) == {"overall", *GROUP_SLICES} and 0 <= di["macro_f1"]["overall"] <= 1
    assert di["pba_accuracy_labelled"] == {"test": doc["test"]["aligner"], "novel": doc["eval_sets"]["novel"]["aligner"],
                                           "p-soups": doc["eval_sets"]["p-soups"]["aligner"]}
    assert all(0 <= v <= 1 for v in di["pba_accuracy_predicted"].values())
    assert (di["n"]["test"], di["n"]["novel"], di["n"]["p-soups"]) == (16, 4, 4) and di["n"]["test_items"] > 0
    assert di["oracle_accuracy"] == doc["oracle"]["accuracy"] and "## Direction inference" in text
    assert set(di["pba_accuracy_predicted_ci_low"]) == {"test", "novel", "p-soups"}

    # Intervals beside every figure (issue 26), and the reference on the ICA prompt (the paper's script, parity only).
    _check_interval_keys(doc)
    assert {"accuracy_ci_low", "accuracy_ci_high"} <= set(doc["oracle"])
    assert {"flip_neutral_ci_low", "flip_non_neutral_ci_high", "placebo_follows_ci_low", "follows_specific_p_value"} <= set(c)
    variant = doc["reference_variant"]
    assert set(variant) == {"test", "novel", "p-soups"}
    for name, figures in (("test", doc["test"]), ("novel", doc["eval_sets"]["novel"]), ("p-soups", doc["eval_sets"]["p-soups"])):
        v = variant[name]
        assert v["same_input"] == figures["aligner"] and v["n"] == figures["n"], name
        assert v["difference"] == pytest.approx(v["accuracy"] - v["same_input"])
        assert {"accuracy_ci_low", "accuracy_ci_high", "difference_p_value"} <= set(v), name
    assert "### Intervals" in text and "(parity only)" in text and "| p-soups | 4 | 4 users |" in text

    # The MLflow run holds the per-pair scores: the published figures recompute from them.
    run = mlflow.search_runs(experiment_names=["alignx"], filter_string="tags.`alignx.pipeline.stage` = 'evaluate@pba'",
                             output_format="list")[0]
    assert run.info.status == "FINISHED" and run.data.metrics["test.aligner"] == doc["test"]["aligner"]
    scores = pd.read_parquet(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="scores/test.parquet"))
    again = metrics.summarize(scores, beta=0.1)
    assert again["aligner"] == doc["test"]["aligner"] and again["base_persona"] == doc["test"]["base_persona"]
    # ... and so do their intervals: the logged scores carry each pair's resampling unit.
    boot = metrics.summarize(scores, 0.1, Bootstrap(1000, 0.95, 0))
    assert (boot["gain_ci_low"], boot["gain_p_value"]) == (doc["test"]["gain_ci_low"], doc["test"]["gain_p_value"])

    # The champion moves exactly when the aligner, scored here apart from the stage, beats the best baseline.
    accuracy = _test_accuracy(stage_dir, stage_dir / "models/pba")
    assert doc["test"]["aligner"] == pytest.approx(accuracy)
    beats = accuracy > doc["test"]["best_baseline"]
    assert doc["champion"] == {"moved": int(beats), "version": 1}
    aliases = MlflowClient().get_registered_model("alignx-pba").aliases
    assert ("champion" in aliases) == beats


def test_a_candidate_equal_to_the_base_model_never_becomes_champion(workdir, world):
    # Policy == reference: every implicit reward is exactly 0, no pair is preferred (a tie counts as wrong), so the
    # aligner's accuracy is 0 and cannot beat a baseline, whatever the baselines score.
    stage_dir = _prepare(workdir, world, pba_model="base")
    state = _run("pba")
    assert state.is_completed(), state.result(raise_on_failure=False)
    doc = json.loads((stage_dir / "metrics/pba.json").read_text())
    assert doc["test"]["aligner"] == 0.0 and doc["champion"] == {"moved": 0, "version": 1}
    assert "champion" not in MlflowClient().get_registered_model("alignx-pba").aliases


def test_the_registered_pyfunc_rewards_equal_the_evaluate_stage_scores(stage_dir, world):
    # The same records through both paths: the registered model (renders AlignX records itself, scores with its
    # artifacts) and the evaluate stage (formatted eval inputs, the reference stage's log-probs, per-pair scores).
    # The served model shows a row's whole persona (alignx.generation.serving: never a draw seeded by record_id),
    # the pipeline a seeded draw of it; both render PBA's given profile alike: the benchmark's records.
    state = _run("pba")
    assert state.is_completed(), state.result(raise_on_failure=False)
    scores = _scores("evaluate@pba", "p-soups")
    beta = yaml.safe_load((stage_dir / "params.yaml").read_text())["evaluate"]["beta"]
    scoring = registry.scoring_config("pba", TrainConfig(beta=beta, micro_batch=16), FORMAT, SpaceConfig())
    with mlflow.start_run():
        version = registry.register(world / "models/pba", "alignx-pba-scorer", world / "models/base", scoring)
    records = pd.read_parquet(world / "data/benchmarks/p-soups.parquet")
    rewards = mlflow.pyfunc.load_model(f"models:/alignx-pba-scorer/{version}").predict(records)
    both = rewards.merge(scores, left_on="record_id", right_on="example_id", validate="one_to_one")
    assert len(both) == len(records) == 4
    chosen = beta * (both["policy_chosen"] - both["ref_chosen"])
    rejected = beta * (both["policy_rejected"] - both["ref_rejected"])
    np.testing.assert_allclose(both["reward_chosen"], chosen, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(both["reward_rejected"], rejected, rtol=1e-5, atol=1e-6)
    assert (both["prefers_chosen"] == (chosen > rejected)).all()
    assert both["reward_chosen"].abs().max() > 0  # real rewards, not the zeros of a policy equal to its reference


def test_evaluate_ica_without_registry_entry_reports_it(stage_dir):
    state = _run("ica")
    assert state.is_completed(), state.result(raise_on_failure=False)
    doc = json.loads((stage_dir / "metrics/ica.json").read_text())
    assert "oracle" not in doc and "controllability" not in doc and "reference_variant" not in doc
    _check_readers(doc, "ica")
    _check_interval_keys(doc)
    assert set(doc["test_by_mode"]) <= {"ugc", "pair", "demo", "mixed"} and doc["champion"]["moved"] == 0
    assert "no version of registered model 'alignx-ica'" in (stage_dir / "reports/ica.md").read_text()


def test_a_missing_reference_row_fails_the_gate_and_publishes_nothing(stage_dir):
    ref = stage_dir / "data/eval/splits/reference/pba/test.parquet"
    pd.read_parquet(ref).iloc[1:].to_parquet(ref)
    state = _run("pba")
    assert state.is_failed()
    message = str(state.result(raise_on_failure=False))
    assert "data/eval/splits/format/pba/test.parquet" in message and "one_reference" in message
    assert not (stage_dir / "metrics/pba.json").exists()
