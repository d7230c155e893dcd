"""Stage `vpl` in process on the tiny world of the evaluate-stage tests (real Prefect, MLflow, GX, transformers),
then evaluate@pba reading its scores as the baseline `vpl`."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from transformers import AutoTokenizer

from alignx.config import SpaceConfig
from alignx.inputs.examples import format_records
from tests.pipeline.test_evaluate_stage import FORMAT, _prepare, _record, world  # noqa: F401 (fixture)

SETS = ("test", "novel", "p-soups")


def _train_inputs(stage_dir: Path, world: Path) -> None:  # noqa: F811
    """Train and val records and ICA's val examples (what vpl learns from and selects on), small VPL params."""
    rng = np.random.default_rng(1)
    tokenizer = AutoTokenizer.from_pretrained(world / "models/base")
    for split, n in (("train", 24), ("val", 8)):
        recs = [_record(rng, split, i) for i in range(n)]
        pd.DataFrame(recs).to_parquet(stage_dir / f"data/pairs/{split}.parquet")
    examples = format_records(recs, "ica", tokenizer, FORMAT, SpaceConfig()).drop(columns=["problem", "length"])
    (stage_dir / "data/format/ica").mkdir(parents=True)
    examples.to_parquet(stage_dir / "data/format/ica/val.parquet")
    params = yaml.safe_load((stage_dir / "params.yaml").read_text())
    # Random toy labels: nothing to learn, so the val floor is off for this run.
    params["vpl"].update(latent=8, hidden=16, epochs=2, batch_size=8, train_users=0, feature_batch=8, device="cpu",
                         min_val_accuracy=0.0)
    (stage_dir / "params.yaml").write_text(yaml.safe_dump(params))


def _group(name: str) -> str:
    return "benchmarks" if name == "p-soups" else "splits"


@pytest.mark.slow
def test_vpl_stage_scores_every_eval_set_and_evaluate_reads_it_as_a_baseline(workdir, world):  # noqa: F811
    from flows.evaluate import evaluate_flow
    from flows.vpl import vpl_flow

    stage_dir = _prepare(workdir, world)
    _train_inputs(stage_dir, world)
    state = vpl_flow(return_state=True)
    assert state.is_completed(), state.result(raise_on_failure=False)

    assert sorted(p.name for p in (stage_dir / "models/vpl").iterdir()) == ["model.safetensors", "vpl.json"]
    assert json.loads((stage_dir / "models/vpl/vpl.json").read_text())["latent"] == 8
    doc = json.loads((stage_dir / "metrics/vpl.json").read_text())
    for aligner in ("ica", "pba"):
        for name in SETS:
            examples = pd.read_parquet(stage_dir / f"data/eval/{_group(name)}/format/{aligner}/{name}.parquet")
            scores = pd.read_parquet(stage_dir / f"data/eval/vpl/{aligner}/{name}.parquet")
            # Same examples in the same order as evaluate's eval set; the context is the PAIR items shown.
            assert scores["example_id"].tolist() == examples["example_id"].tolist()
            assert scores["n_context"].tolist() == examples["n_pair"].tolist()
            assert np.isfinite(scores[["vpl_chosen", "vpl_rejected"]].to_numpy()).all()
            entry = doc[aligner][name]
            assert entry["n"] == len(examples) and 0 <= entry["accuracy"] <= 1
            assert entry["accuracy"] == pytest.approx((scores["vpl_chosen"] > scores["vpl_rejected"]).mean())
            assert sum(m["n"] for m in entry["by_mode"].values()) == len(examples)
            assert entry["prior"]["n"] == int((examples["n_pair"] == 0).sum())
    run = mlflow.search_runs(experiment_names=["alignx"], filter_string="tags.`alignx.pipeline.stage` = 'vpl'",
                             output_format="list")[0]
    assert run.info.status == "FINISHED" and run.data.params["vpl.latent"] == "8"
    assert len(mlflow.MlflowClient().get_metric_history(run.info.run_id, "curve.loss")) == 2
    assert run.data.metrics["train_pairs"] == 24 and run.data.metrics["val_accuracy"] == doc["val"]["accuracy"]
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "gates")}
    assert {"gates/vpl_model.json", "gates/vpl_scores_pba_test.json", "gates/vpl_metrics.json"} <= artifacts

    # evaluate@pba: `vpl` beside the base-model baselines, in the best baseline and per persona mode.
    state = evaluate_flow("pba", return_state=True)
    assert state.is_completed(), state.result(raise_on_failure=False)
    metrics = json.loads((stage_dir / "metrics/pba.json").read_text())
    test = metrics["test"]
    assert test["vpl"] == pytest.approx(doc["pba"]["test"]["accuracy"])
    assert test["best_baseline"] == max(test["base_no_persona"], test["base_persona"], test["vpl"])
    assert test["gain"] == pytest.approx(test["aligner"] - test["best_baseline"])
    assert metrics["eval_sets"]["p-soups"]["vpl"] == pytest.approx(doc["pba"]["p-soups"]["accuracy"])
    assert all("vpl" in m for m in metrics["test_by_mode"].values())
    assert "| VPL" in (stage_dir / "reports/pba.md").read_text()

    # Scores of other examples than the eval set's (a stale file) fail evaluate, naming the file.
    stale = stage_dir / "data/eval/vpl/pba/novel.parquet"
    pd.read_parquet(stale).iloc[1:].to_parquet(stale)
    state = evaluate_flow("pba", return_state=True)
    assert state.is_failed()
    with pytest.raises(Exception, match="vpl/pba/novel.parquet"):
        state.result()
