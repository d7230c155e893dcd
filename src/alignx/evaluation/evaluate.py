"""Stage `evaluate@{ica,pba}`: the eval sets loaded and gated, the aligner and the base model scored on them
(alignx.evaluation.experiments), the champion alias moved, and the published metrics, plots and report with their
gates."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import great_expectations.expectations as gxe
import mlflow
import pandas as pd

from alignx.config import EvaluateConfig, SpaceConfig
from alignx.contracts import BASE_DIR, generate_dir, metrics_file, model_dir
from alignx.evaluation import champion, eval_sets, generation_report, parallel, plots
from alignx.evaluation.experiments import Evaluator
from alignx.evaluation.intervals import HIGH, LOW, P_VALUE
from alignx.evaluation.results import AlignerResults
from alignx.evaluation.scoring import Scorer
from alignx.modeling.model import load_hf, load_policy, stored_dtype
from alignx.modeling.parallel_scoring import ScoringJob
from alignx.modeling.tokenizer import pad_id
from alignx.pipeline import gates, outputs

T = TypeVar("T")


def load_eval_sets(
    aligner: str, p: EvaluateConfig, benchmark_files: dict[str, str], max_len: int,
    check: Callable[..., None],
) -> dict[str, pd.DataFrame]:
    """Every eval set of `aligner` with examples (and VPL's rewards when stage `vpl` scored them), each checked by
    `check(gate result, where=...)` (Stage.check) as it is loaded; an empty set other than `test` is skipped and
    named (tag `evaluate.skipped_empty_sets`)."""
    sets = eval_sets.eval_sets(aligner, list(p.splits), benchmark_files)
    frames, skipped = {}, []
    for name, (files, _) in sets.items():
        frame = eval_sets.load(eval_sets.with_vpl(files, aligner, name))
        if frame.empty and name != "test":  # imported data may have no novel split: say so, score the rest
            print(f"evaluate@{aligner}: eval set {name!r} has no examples ({files['examples']}): skipped")
            skipped.append(name)
            continue
        if frame.empty:
            raise eval_sets.EvalInputError(f"{files['examples']}: no examples; the test split is required")
        frames[name] = frame
        check(eval_sets.gate(frame, name, max_len), where=str(files["examples"]))
    mlflow.set_tag("evaluate.skipped_empty_sets", ",".join(skipped) or "none")
    mlflow.set_tag("evaluate.vpl_sets", ",".join(n for n, f in frames.items() if "vpl_chosen" in f) or "none")
    return frames


def build_evaluator(aligner: str, p: EvaluateConfig, spc: SpaceConfig, max_len: int) -> Evaluator:
    """The aligner (adapter on the base, or merged) and the base model, both in the reference's precision; with
    several processes (`evaluate.num_processes` / `hostfile`) no model here: the ranks load them (`scored`)."""
    dtype = stored_dtype(BASE_DIR)  # the reference's precision: policy and reference scored alike
    if scoring_jobs(aligner, p)["base"].distributed:
        from alignx.inputs.format import base_tokenizer

        base_model, policy_model, tokenizer = None, None, base_tokenizer(BASE_DIR, max_len)
    else:
        base_model, tokenizer = load_hf(BASE_DIR, dtype)
        policy_model, _ = load_policy(model_dir(aligner), BASE_DIR, dtype)
    return Evaluator(
        aligner=aligner,
        policy=Scorer(aligner, policy_model, p.batch_size, pad_id(tokenizer), p.device),
        base=Scorer("base", base_model, p.batch_size, pad_id(tokenizer), p.device),
        tokenizer=tokenizer,
        beta=p.beta,
        max_len=max_len,
        thresholds=(spc.positive_threshold, spc.negative_threshold),
    )


def scoring_jobs(aligner: str, p: EvaluateConfig) -> dict[str, ScoringJob]:
    """How the ranks load and run each scorer of `build_evaluator`: the aligner and the base model."""
    common = {"base": str(BASE_DIR), "device": p.device, "batch_size": p.batch_size,
              "num_processes": p.num_processes, "hostfile": p.hostfile, "setting": "evaluate"}
    return {"policy": ScoringJob(policy=str(model_dir(aligner)), **common), "base": ScoringJob(**common)}


def scored(ev: Evaluator, p: EvaluateConfig, measure: Callable[[], T]) -> T:
    """`measure()` (every scoring measurement of the stage) in this process, or with its scoring across
    `evaluate.num_processes` processes (alignx.evaluation.parallel: the same figures); the parts folder sits beside
    the metrics file and is removed afterwards."""
    jobs = scoring_jobs(ev.aligner, p)
    if not jobs["base"].distributed:
        return measure()
    parts = outputs.staging_path(metrics_file(ev.aligner).with_name(f"scoring_{ev.aligner}"))
    try:
        return parallel.scored({"policy": ev.policy, "base": ev.base}, jobs, measure, parts)
    finally:
        outputs.discard(parts)


def headline(res: AlignerResults) -> dict[str, float]:
    """The figures a reader looks for first: the aligner's accuracy on every eval set (test, novel, P-Soups, ...)
    and its gain over the best baseline on each; sets without a measure are left out."""
    figures: dict[str, float] = {}
    for name, summary in res.sets.items():
        for key, label in (("aligner", "accuracy"), ("gain", "gain")):
            value = summary.get(key)
            if isinstance(value, (int, float)) and value == value:
                figures[f"{name}_{label}"] = float(value)
    return figures


def update_champion(aligner: str, res: AlignerResults) -> dict:
    """Move the aligner's `champion` alias to the candidate when it beats the best baseline on test; the candidate
    is tagged with the headline figures (`eval.test_accuracy`, ...), which its model card also shows."""
    test_summary = res.sets["test"]
    return champion.update_champion(aligner, test_summary["gain"] > 0,
                                    tags={f"eval.{k}": v for k, v in headline(res).items()})


def with_generation(aligner: str, doc: dict, text: str) -> tuple[dict, str]:
    """The metrics document and report with the judged generations of stage generate@<aligner> (a `generation`
    section and a report section); both unchanged when that stage has not run."""
    generated = generation_report.read_summary(generate_dir(aligner))
    doc = generation_report.attach(doc, aligner, generated)
    if generated is not None:
        text = generation_report.insert(text, generation_report.markdown(aligner, generated))
    return doc, text


# Leaf names whose values are accuracies or rates: fractions in [0, 1] (counts `n`, `pairs_*` and differences
# such as `gain` and `follows_specific` are not).
FRACTIONS = {"aligner", "base_no_persona", "base_persona", "vpl", "base_no_persona_per_token", "best_baseline", "accuracy",
             "flip_non_neutral", "flip_neutral", "follows_non_neutral", "flip_right_non_neutral", "placebo_follows",
             "placebo_flip", "win_rate", "well_formed", "same_input"}


def _is_fraction(key: str) -> bool:
    """A leaf that must lie in [0, 1]: an accuracy or rate (FRACTIONS), its interval's ends, any p-value."""
    leaf = key.rsplit(".", 1)[-1]
    for suffix in (LOW, HIGH):
        leaf = leaf.removesuffix(suffix)
    return leaf in FRACTIONS or key.endswith(P_VALUE)


def gate_metrics(path: Path, _written: object = None) -> gates.GateResult:
    """Every accuracy and rate in the metrics document, the ends of their intervals and every p-value are
    fractions; the test split was measured."""
    leaves = [(k, v) for k, v in _leaves(json.loads(path.read_text()), "") if _is_fraction(k)]
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


def gate_plots(folder: Path, _written: object = None) -> gates.GateResult:
    """The plot folder holds every figure and data file, none empty."""
    expected = plots.FILES + (plots.PBA_FILES if (folder / "controllability.csv").exists() else ())
    files = pd.DataFrame({"file": list(expected), "size": [(folder / f).stat().st_size if (folder / f).exists() else 0 for f in expected]})
    return gates.check("evaluate_plots", files, [gxe.ExpectColumnValuesToBeBetween(column="size", min_value=1)])


def gate_report(path: Path, _written: object = None) -> gates.GateResult:
    """The report holds every section."""
    text = path.read_text()
    sections = pd.DataFrame({"section": ["# Evaluation", "## Readers", "## Robustness", "## Targets", "## Limitations"]})
    sections["present"] = sections["section"].map(lambda s: s in text)
    return gates.check("evaluate_report", sections, [gates.all_true("present")])


def flat_figures(doc: dict) -> dict[str, float]:
    """Every number of the metrics document, keyed by its dotted path."""
    return {k: float(v) for k, v in _leaves(doc, "")}


def log_frame(frame: pd.DataFrame, artifact_file: str) -> None:
    """A per-pair score table as an MLflow artifact (parquet): every figure can be recomputed from it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(artifact_file).name
        frame.to_parquet(path, index=False)
        mlflow.log_artifact(str(path), artifact_path=str(Path(artifact_file).parent))
