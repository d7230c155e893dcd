"""Stage `evaluate@{ica,pba}`: alignment accuracy, baselines, the paper's experiments, plots and a report."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import great_expectations.expectations as gxe
import mlflow
import pandas as pd
from prefect import flow
from prefect.artifacts import create_markdown_artifact

from alignx.contracts import BASE_DIR, generate_dir, metrics_file, model_dir, plots_dir, report_file
from alignx.evaluation import champion, inputs, plots, report
from alignx.evaluation.experiments import Evaluator, measure
from alignx.evaluation.scoring import Scorer, load_policy
from alignx.generation import report as generation_report
from alignx.modeling.model import load_hf, stored_dtype
from alignx.modeling.tokenizer import pad_id
from alignx.pipeline import gates
from alignx.pipeline.stage import stage

# Leaf names whose values are accuracies or rates: fractions in [0, 1] (counts `n`, `pairs_*` and differences
# such as `gain` and `follows_specific` are not).
FRACTIONS = {"aligner", "base_no_persona", "base_persona", "base_no_persona_per_token", "best_baseline", "accuracy",
             "flip_non_neutral", "flip_neutral", "follows_non_neutral", "flip_right_non_neutral", "placebo_follows",
             "placebo_flip", "win_rate", "well_formed"}


def gate_metrics(path: Path) -> gates.GateResult:
    """Every accuracy and rate in the metrics document is a fraction; the test split was measured."""
    leaves = [(k, v) for k, v in _leaves(json.loads(path.read_text()), "") if k.rsplit(".", 1)[-1] in FRACTIONS]
    frame = pd.DataFrame(leaves, columns=["key", "fraction"])
    return gates.check("evaluate_metrics", frame, [
        gxe.ExpectColumnValuesToBeBetween(column="fraction", min_value=0, max_value=1),
        gxe.ExpectColumnDistinctValuesToContainSet(column="key", value_set=["test.aligner", "test.best_baseline"]),
    ])


def _leaves(doc: dict, prefix: str):
    for key, value in doc.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        elif value is not None and not isinstance(value, str):
            yield f"{prefix}{key}", value


def gate_plots(folder: Path) -> gates.GateResult:
    """The plot folder holds every figure and data file, none empty."""
    expected = plots.FILES + (plots.PBA_FILES if (folder / "controllability.csv").exists() else ())
    files = pd.DataFrame({"file": list(expected), "size": [(folder / f).stat().st_size if (folder / f).exists() else 0 for f in expected]})
    return gates.check("evaluate_plots", files, [gxe.ExpectColumnValuesToBeBetween(column="size", min_value=1)])


def gate_report(path: Path) -> gates.GateResult:
    text = path.read_text()
    sections = pd.DataFrame({"section": ["# Evaluation", "## Readers", "## Robustness", "## Targets", "## Limitations"]})
    sections["present"] = sections["section"].map(lambda s: s in text)
    return gates.check("evaluate_report", sections, [gates.all_true("present")])


@flow(name="evaluate", log_prints=True)
def evaluate_flow(variant: str) -> str:
    """Evaluate aligner `variant` (ica or pba) against the base-model baselines; publish metrics, plots, report."""
    aligner = variant
    with stage(f"evaluate@{aligner}", reads=("format", "space", "benchmarks")) as st:
        p, spc = st.params, st.section("space")
        max_len = st.section("format").max_len
        sets = inputs.eval_sets(aligner, list(p.splits), st.section("benchmarks").files)
        frames, skipped = {}, []
        for name, (files, _) in sets.items():
            frame = inputs.load(files)
            if frame.empty and name != "test":  # imported data may have no novel split: say so, score the rest
                print(f"evaluate@{aligner}: eval set {name!r} has no examples ({files['examples']}): skipped")
                skipped.append(name)
                continue
            if frame.empty:
                raise inputs.EvalInputError(f"{files['examples']}: no examples; the test split is required")
            frames[name] = frame
            st.check(inputs.gate(frame, name, max_len), where=str(files["examples"]))
        mlflow.set_tag("evaluate.skipped_empty_sets", ",".join(skipped) or "none")
        dtype = stored_dtype(BASE_DIR)  # the reference's precision: policy and reference scored alike
        base_model, tokenizer = load_hf(BASE_DIR, dtype)
        policy_model, _ = load_policy(model_dir(aligner), BASE_DIR, dtype)
        ev = Evaluator(
            aligner=aligner,
            policy=Scorer(aligner, policy_model, p.batch_size, pad_id(tokenizer), p.device),
            base=Scorer("base", base_model, p.batch_size, pad_id(tokenizer), p.device),
            tokenizer=tokenizer,
            beta=p.beta,
            max_len=max_len,
            thresholds=(spc.positive_threshold, spc.negative_threshold),
        )
        res, tables = measure(ev, frames, p)
        print(f"evaluate@{aligner}: scored {res.speed['pairs']} pairs in {res.speed['seconds']:.1f} s "
              f"({res.speed['pairs_per_second']:.1f} pairs/s)")
        test_summary = res.sets["test"]
        res.champion = champion.update_champion(
            aligner, test_summary["gain"] > 0,
            tags={"eval.test_accuracy": test_summary["aligner"], "eval.test_gain": test_summary["gain"]},
        )
        for name, table in tables.items():
            _log_frame(table, f"scores/{name}.parquet")
        doc = report.metrics_document(res)
        # Judged generations (stage generate@<aligner>): a `generation` section and a report section.
        generated = generation_report.read_summary(generate_dir(aligner))
        doc = generation_report.attach(doc, aligner, generated)
        st.publish(metrics_file(aligner), lambda tmp: tmp.write_text(json.dumps(doc, indent=2) + "\n"), gate_metrics)
        st.publish(plots_dir(aligner), lambda tmp: plots.write_plots(res, tmp), gate_plots)
        text = report.markdown(res)
        if generated is not None:
            text = generation_report.insert(text, generation_report.markdown(aligner, generated))
        st.publish(report_file(aligner), lambda tmp: tmp.write_text(text), gate_report)
        st.report(_flat(doc), title=f"evaluate@{aligner}")
        # The whole report too, so the Prefect UI shows the results table beside the flow run.
        create_markdown_artifact(markdown=text, key=f"alignx-evaluate-{aligner}-report", description="evaluation report")
    return str(metrics_file(aligner))


def _flat(doc: dict) -> dict[str, float]:
    return {k: float(v) for k, v in _leaves(doc, "")}


def _log_frame(frame: pd.DataFrame, artifact_file: str) -> None:
    """A per-pair score table as an MLflow artifact (parquet): every figure can be recomputed from it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(artifact_file).name
        frame.to_parquet(path, index=False)
        mlflow.log_artifact(str(path), artifact_path=str(Path(artifact_file).parent))
