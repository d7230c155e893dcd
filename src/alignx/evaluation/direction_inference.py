"""PBA with predicted history directions (issue 25): the annotator's quality on test history items, and PBA's
accuracy when its profiles come from predicted instead of labelled directions, scored exactly as `evaluate`
scores the labelled examples (the same render, `format_record`; the same aligner and reference; the same
metric). Written into metrics/pba.json as `direction_inference` and into reports/pba.md.

    splits (test, novel)   every history item's direction predicted (`directions.use: predicted`)
    benchmarks (P-Soups)   the items carry no direction: predicted ones replace the file's given `profile`
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alignx import space
from alignx.annotation import metrics as annotation_metrics
from alignx.annotation.apply import fill_directions
from alignx.annotation.features import history_items, labels, unique_items
from alignx.annotation.model import Annotator
from alignx.config import EvaluateConfig, FormatConfig, SpaceConfig
from alignx.contracts import ANNOTATOR_DIR
from alignx.evaluation import eval_sets, metrics
from alignx.evaluation.experiments import Evaluator, bootstrap
from alignx.evaluation.intervals import CLUSTER, HIGH, LOW, Bootstrap, add_interval
from alignx.evaluation.results import AlignerResults
from alignx.inputs.examples import format_record, iter_records

SECTION = "direction_inference"


def read_records(path: Path, record_ids: pd.Series) -> list[dict]:
    """The source records of an eval set's examples, in the examples' order (as eval_inputs read them)."""
    by_id = {str(r["record_id"]): r for chunk in iter_records(path) for r in chunk}
    return [by_id[str(rid)] for rid in record_ids]


def annotator_quality(annotator: Annotator, records: list[dict]) -> dict:
    """annotation.metrics.summary over each distinct labelled history item of `records`."""
    items = unique_items(history_items(records))
    items = items[items["direction"].notna()]
    return annotation_metrics.summary(labels(items), annotator.classes(items)) if len(items) else {"n_items": 0}


def predicted_accuracy(ev: Evaluator, annotator: Annotator, fmt: FormatConfig, spc: SpaceConfig, records: list[dict],
                       use: str, labelled_profiles: pd.Series, name: str, boot: Bootstrap | None = None,
                       clusters: Any = None) -> dict[str, Any]:
    """PBA accuracy on `records` re-rendered with directions filled per `use`, both models scoring the new
    inputs; also how often the profile shown equals the labelled one and how often it is empty. With `boot` and
    the records' `clusters`, the accuracy's interval (`accuracy_ci_low`, `accuracy_ci_high`)."""
    filled = fill_directions(records, annotator, use)
    rows = pd.DataFrame([format_record({**r, "split": "test"}, "pba", ev.tokenizer, fmt, spc) for r in filled])
    ok = (rows["problem"] == "").to_numpy()
    scored = ev.both(rows.loc[ok, ["prompt_ids", "chosen_ids", "rejected_ids"]], f"{name}, predicted directions")
    correct = metrics.aligner(scored, ev.beta)
    interval = {}
    if boot is not None and ok.any():
        add_interval(interval, "accuracy", correct, np.asarray(clusters)[ok], boot)
    return {
        **interval,
        "accuracy": metrics.accuracy(correct) if ok.any() else None,
        "n": int(ok.sum()),
        "not_formatted": int((~ok).sum()),
        "profile_same_as_labelled": round(float((rows["profile"].to_numpy() == labelled_profiles.to_numpy()).mean()), 4),
        "profile_empty": round(float((rows["profile"] == "").mean()), 4),
    }


def measure(ev: Evaluator, annotator: Annotator, fmt: FormatConfig, spc: SpaceConfig, frames: dict[str, pd.DataFrame],
            record_files: dict[str, tuple[Path, bool]], labelled: dict[str, dict], oracle: dict | None,
            boot: Bootstrap | None = None) -> dict:
    """The `direction_inference` section: annotator quality on test (and novel) items, PBA accuracy predicted vs
    labelled per eval set (`labelled[name]["aligner"]`, the existing figure), counts, the oracle ceiling. With
    `boot` (and the frames' `cluster` column), the predicted accuracies' intervals beside them:
    `pba_accuracy_predicted_ci_low` / `_ci_high`, keyed by eval set like `pba_accuracy_predicted`."""
    start = time.perf_counter()
    trained = annotator.trained
    out: dict[str, Any] = {"pba_accuracy_predicted": {}, "pba_accuracy_labelled": {}, "profiles": {},
                           "n": {f"{s}_items": trained[f"{s}_items"] for s in ("train", "val") if f"{s}_items" in trained}}
    for name, frame in frames.items():
        path, benchmark = record_files[name]
        records = read_records(path, frame["record_id"])
        if not benchmark:
            quality = annotator_quality(annotator, records)
            if name == "test":
                out.update(macro_f1=quality.get("macro_f1"), non_neutral_accuracy=quality.get("non_neutral_accuracy"),
                           exact_items=quality.get("exact_items"))
            else:
                out.setdefault("annotator_by_split", {})[name] = quality
            out["n"][f"{name}_items"] = quality.get("n_items", 0)
        clusters = frame[CLUSTER].to_numpy() if CLUSTER in frame.columns else None
        found = predicted_accuracy(ev, annotator, fmt, spc, records, "missing" if benchmark else "predicted",
                                   frame["profile"], name, boot if clusters is not None else None, clusters)
        out["pba_accuracy_predicted"][name] = found["accuracy"]
        for end in (LOW, HIGH):
            if "accuracy" + end in found:
                out.setdefault("pba_accuracy_predicted" + end, {})[name] = found["accuracy" + end]
        out["pba_accuracy_labelled"][name] = labelled[name]["aligner"]
        out["n"][name] = found["n"]
        out["profiles"][name] = {k: found[k] for k in ("not_formatted", "profile_same_as_labelled", "profile_empty")}
    out["gap_test"] = (round(out["pba_accuracy_labelled"]["test"] - out["pba_accuracy_predicted"]["test"], 4)
                       if out["pba_accuracy_predicted"].get("test") is not None else None)
    out["oracle_accuracy"] = None if oracle is None else oracle.get("accuracy")
    print(f"direction_inference: measured in {time.perf_counter() - start:.1f} s")
    return out


def for_stage(ev: Evaluator, frames: dict[str, pd.DataFrame], p: EvaluateConfig, benchmark_files: dict[str, str],
              fmt: FormatConfig, spc: SpaceConfig, res: AlignerResults) -> dict:
    """`measure` as stage `evaluate@pba` runs it: the eval sets it scored, their record files, the annotator of the
    `directions` stage (models/annotator), the labelled figures and the oracle ceiling of `res`."""
    sets = eval_sets.eval_sets("pba", list(p.splits), benchmark_files)
    sources = {name: (files["records"], benchmark) for name, (files, benchmark) in sets.items() if name in frames}
    return measure(ev, Annotator.load(ANNOTATOR_DIR), fmt, spc, frames, sources, res.sets, res.oracle, bootstrap(p))


def _pct(value: float | None) -> str:
    return "n/a" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{100 * value:.1f}"


def markdown(section: dict) -> str:
    """The report's `## Direction inference` section."""
    f1 = section.get("macro_f1") or {}
    groups = " | ".join(f"{g} {f1.get(g, float('nan')):.3f}" for g in space.GROUP_SLICES)
    lines = [
        "## Direction inference",
        "",
        "PBA without hand labels: each history item's direction predicted by the annotator (`directions` stage, "
        "trained on train-split items only), the profile then inferred as usual. Per-dimension macro-F1 over "
        f"{{negative, neutral, positive}} on {section['n'].get('test_items', 0)} distinct test history items: "
        f"**{f1.get('overall', float('nan')):.3f}** ({groups}); accuracy on non-neutral entries "
        f"{_pct(section.get('non_neutral_accuracy'))} %.",
        "",
        "| eval set | PBA, labelled directions | PBA, predicted directions | predicted profile = labelled | n |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, predicted in section["pba_accuracy_predicted"].items():
        same = section["profiles"][name]["profile_same_as_labelled"]
        low, high = (section.get("pba_accuracy_predicted" + end, {}).get(name) for end in (LOW, HIGH))
        interval = "" if low is None or high is None else f" [{_pct(low)}, {_pct(high)}]"
        lines.append(f"| {name} | {_pct(section['pba_accuracy_labelled'][name])} | {_pct(predicted)}{interval} | "
                     f"{_pct(same)} % | {section['n'][name]} |")
    lines += ["", f"Ceiling: PBA with the oracle profile (the pair's own judged direction) {_pct(section.get('oracle_accuracy'))} %. "
              "For a benchmark, `labelled` is the file's given profile and `predicted` the profile inferred from its "
              "PAIR history's predicted directions (the annotator learned this world's vocabulary: on other text it "
              "mostly predicts neutral, and an all-neutral history gives an empty profile). Novel users prefer along "
              "dimensions no train user shows (`personas.novel_dims`): the annotator, trained on train users' items "
              "only, has never seen them and predicts them neutral."]
    return "\n".join(lines)
