"""Stage generate@{ica,pba} in process on the tiny world of the evaluate test, then evaluate@pba reporting it:
real Prefect, MLflow, GX and transformers models."""

import json
from pathlib import Path

import mlflow
import pandas as pd
import yaml

from tests.pipeline.test_evaluate_stage import stage_dir, world  # noqa: F401  (fixtures)


def _small(stage_dir):  # noqa: F811
    params = yaml.safe_load((stage_dir / "params.yaml").read_text())
    params["generate"].update(records={"test": 6, "novel": 2}, max_new_tokens=8, control_dims=2, control_records=1,
                              examples=1, min_non_empty=0.0, device="cpu", batch_size=4)
    # The LLM judge option, with the world's base model as the judge (the mechanics: both orders, position bias).
    prompt = Path(__file__).resolve().parents[2] / "src/alignx/generation/judge_prompt.txt"
    params["generate"]["judge"] = {"model": f"hf:{stage_dir / 'models/base'}", "prompt": str(prompt), "max_pairs": 4}
    (stage_dir / "params.yaml").write_text(yaml.safe_dump(params))


def test_generate_pba_then_evaluate_reports_generation(stage_dir):  # noqa: F811
    from flows.evaluate import evaluate_flow
    from flows.generate import generate_flow

    _small(stage_dir)
    state = generate_flow("pba", return_state=True)
    assert state.is_completed(), state.result(raise_on_failure=False)
    out = stage_dir / "data/generate/pba"
    frame = pd.read_parquet(out / "generations.parquet")
    counts = frame[frame["set"].isin(["test", "novel"])].groupby(["set", "system"]).size()
    assert counts.loc["test"].tolist() == [6, 6, 6] and counts.loc["novel"].tolist() == [2, 2, 2]
    control = frame[frame["set"] == "control"]
    assert len(control) == 3 * 2 and set(control["control_sign"]) == {1, -1}
    assert (frame["n_tokens"] <= 8).all() and (frame[frame["set"] == "contrast"].shape[0] == 2)
    summary = json.loads((out / "summary.json").read_text())
    vs = summary["vs_base_persona"]
    assert vs["n"] <= 6 and vs["wins"] + vs["ties"] + vs["losses"] == vs["n"]  # user-test-3 has no true vector
    assert 0 <= summary["well_formed"] <= 1 and summary["speed"]["tokens_per_second"] > 0
    assert summary["controllability"]["n"] == 2
    llm = summary["llm_judge"]["vs_base_persona"]
    assert llm["n"] == 4 and -0.5 <= llm["position_bias"] <= 0.5 and 0 <= llm["consistency"] <= 1
    run = mlflow.search_runs(experiment_names=["alignx"],
                             filter_string="tags.`alignx.pipeline.stage` = 'generate@pba'", output_format="list")[0]
    assert run.data.metrics["speed.tokens_per_second"] > 0 and run.data.params["generate.top_k"] == "10"

    state = evaluate_flow("pba", return_state=True)
    assert state.is_completed(), state.result(raise_on_failure=False)
    doc = json.loads((stage_dir / "metrics/pba.json").read_text())
    assert doc["generation"]["vs_base_persona"]["n"] == vs["n"] and "novel" in doc["generation"]["vs_base_no_persona"]
    assert "test" in doc and "controllability" in doc  # the existing sections are still there
    text = (stage_dir / "reports/pba.md").read_text()
    assert "## Generation" in text and "**Example 1**" in text and "**LLM judge**" in text
    assert text.index("## Generation") < text.index("## Limitations")
