"""What evaluation publishes: the DVC metrics document, the targets check and the Markdown report."""

from __future__ import annotations

import math
from typing import Any

from alignx.evaluation.results import AlignerResults

METHOD_LABELS = {
    "base_no_persona": "Base model, no persona (baseline a)",
    "base_persona": "Base model prompted with the persona (baseline b)",
    "aligner": "{name} (this run)",
}
MODES = ("ugc", "pair", "demo", "mixed")
# The paper's figures (Llama-3.1-8B, 1.3M real records), shown beside ours for scale, never compared as equals.
PAPER = {"ica": {"test": "75.19", "p-soups": "63.33"}, "pba": {"test": "71.10", "p-soups": "81.69", "golden": "91.36"}}
LIMITATIONS = """\
* **Synthetic data.** The default pipeline trains and evaluates on the seeded synthetic AlignX world (responses
  rendered from per-dimension intensities, choices by a noisy utility). Its accuracies measure how well the
  aligner recovers that world's preferences, not human ones; they are not comparable to the paper's numbers.
* **Model size.** The default aligner is a tiny Llama-architecture model trained from scratch on the corpus (the
  paper: Llama-3.1-8B). Baselines are the same tiny base model, not the paper's prompted 7-8B models.
* **Benchmarks.** A benchmark is evaluated only when its file is present; P-Soups profiles are the released text,
  its personas carry no direction vectors, so it has no golden-profile or controllability measurement.
* **Controllability** is measured with single-dimension profiles (the dimension's positive label against its
  negative label), on test pairs sampled per dimension; dimensions with no such test pair are not measured.
"""


def pct(value: float | None) -> str:
    """A fraction as a percentage with two decimals (the paper's style); '-' when not measured."""
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.2f}"


def targets(res: AlignerResults) -> list[dict[str, Any]]:
    """The issue's targets for this aligner: name, threshold, measured value, met (None when not measured)."""
    rows = [("gain over best baseline on test", ">= 17 points", res.sets["test"]["gain"], lambda v: v >= 0.17)]
    for name, summary in res.sets.items():
        if name.startswith("p-soups") or name.startswith("psoups"):
            rows.append((f"gain over best baseline on {name}", "> 0", summary["gain"], lambda v: v > 0))
    if res.golden is not None:
        rows.append(("golden-profile accuracy on test", ">= 85 %", res.golden["accuracy"], lambda v: v >= 0.85))
    if res.control is not None:
        rows.append(("flips on non-neutral pairs", ">= 80 %", res.control["flip_non_neutral"], lambda v: v >= 0.8))
        rows.append(("flips on neutral pairs", "<= 10 %", res.control["flip_neutral"], lambda v: v <= 0.1))
    return [
        {"target": n, "threshold": t, "measured": v, "met": None if math.isnan(v) else bool(ok(v))}
        for n, t, v, ok in rows
    ]


def metrics_document(res: AlignerResults) -> dict[str, Any]:
    """metrics/<aligner>.json: numbers only (DVC metrics compare them across experiments)."""
    numeric = lambda d: {k: v for k, v in d.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}  # noqa: E731
    doc: dict[str, Any] = {"beta": res.beta}
    doc["test"] = numeric(res.sets["test"])
    doc["test_by_mode"] = {
        row["mode"]: {k: row[k] for k in ("aligner", "base_no_persona", "base_persona", "n")}
        for row in res.by_mode.to_dict("records")
    }
    doc["eval_sets"] = {name: numeric(s) for name, s in res.sets.items() if name != "test"}
    doc["robustness"] = {
        kind: {str(int(r["k"])): r[kind] for r in res.robustness.to_dict("records") if not math.isnan(r[kind])}
        for kind in ("ugc", "pair")
    }
    if res.golden is not None:
        doc["golden"] = res.golden
    if res.control is not None:
        doc["controllability"] = res.control
    doc["speed"] = res.speed
    doc["champion"] = {"moved": int(bool(res.champion.get("moved"))), "version": res.champion.get("version")}
    doc["targets_met"] = {t["target"].replace(" ", "_"): int(t["met"]) for t in targets(res) if t["met"] is not None}
    # JSON has no NaN: an unmeasured figure is null.
    return _nan_to_none(doc)


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if hasattr(obj, "item"):  # numpy scalars
        return _nan_to_none(obj.item())
    return obj


def markdown(res: AlignerResults) -> str:
    """The report: the paper's results table (methods x eval sets), the experiments, targets and limitations."""
    sections = [_results_table(res), _robustness(res), _novel(res)]
    if res.golden is not None:
        sections.append(_golden(res))
    if res.control is not None:
        sections.append(_controllability(res.control))
    sections += [_targets(res), _run(res), "## Limitations\n\n" + LIMITATIONS]
    return f"# Evaluation of the {res.aligner.upper()} aligner\n\n" + "\n\n".join(sections)


def _columns(res: AlignerResults) -> dict[str, dict]:
    """Report column -> its summary (aligner, both baselines, best_baseline, n): test, test per mode, the rest."""
    columns = {"test (all)": res.sets["test"]}
    by_mode = {row["mode"]: row for row in res.by_mode.to_dict("records")}
    for mode in MODES:
        if mode in by_mode:
            row = by_mode[mode]
            columns[f"test {mode.upper()}"] = {**row, "best_baseline": max(row["base_no_persona"], row["base_persona"])}
    columns.update({name: s for name, s in res.sets.items() if name != "test"})
    return columns


def _results_table(res: AlignerResults) -> str:
    name, columns = res.aligner.upper(), _columns(res)
    lines = [
        "Alignment accuracy (%): the share of preference pairs whose implicit reward",
        f"beta * (log pi(y|x) - log pi_ref(y|x)), beta = {res.beta}, is higher for the chosen response;",
        "the reference is the base model on the same input. Baselines use the same base model.", "",
        "| method | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|",
    ]
    for method, label in METHOD_LABELS.items():
        lines.append(f"| {label.format(name=name)} | " + " | ".join(pct(c[method]) for c in columns.values()) + " |")
    gains = [f"{100 * (c['aligner'] - c['best_baseline']):+.2f}" for c in columns.values()]
    lines.append("| gain over the best baseline (points) | " + " | ".join(gains) + " |")
    lines.append("| pairs | " + " | ".join(str(int(c["n"])) for c in columns.values()) + " |")
    paper = PAPER.get(res.aligner, {})
    lines += ["", f"Paper, for scale only (Llama-3.1-8B, real data): {name} {paper.get('test', '-')} on AlignX_test, "
              f"{paper.get('p-soups', '-')} on P-Soups; prompted 7-8B baselines 34-67."]
    if res.skipped:
        lines += ["", "Not evaluated:"] + [f"* {b}: {why}" for b, why in res.skipped.items()]
    return "\n".join(lines)


def _robustness(res: AlignerResults) -> str:
    lines = ["## Robustness to limited user data", "",
             "Aligner accuracy on test by the number of history items shown (0 = the post alone). Row k holds the",
             "sampled records with at least k items of that source, so rows differ in records as well as in k.", "",
             "| items | UGC only | PAIR only |", "|---|---|---|"]
    for r in res.robustness.to_dict("records"):
        lines.append(f"| {int(r['k'])} | {pct(r['ugc'])} (n={int(r['n_ugc'])}) | {pct(r['pair'])} (n={int(r['n_pair'])}) |")
    return "\n".join(lines)


def _novel(res: AlignerResults) -> str:
    if "novel" not in res.sets:
        return "## Adaptation to novel preferences\n\n`novel` split: not evaluated."
    s = res.sets["novel"]
    return ("## Adaptation to novel preferences\n\n`novel` split (preferences along dimensions no training user had): "
            f"{res.aligner.upper()} {pct(s['aligner'])} against the best baseline {pct(s['best_baseline'])}.")


def _golden(res: AlignerResults) -> str:
    paper = PAPER.get(res.aligner, {}).get("golden", "-")
    return ("## Golden profile (upper bound)\n\nPBA with the profile verbalized from each test pair's own direction "
            f"vector: {pct(res.golden['accuracy'])} on {res.golden['n']} pairs (inferred profile: "
            f"{pct(res.sets['test']['aligner'])}; paper: {paper}).")


def _controllability(c: dict) -> str:
    return "\n".join([
        "## Controllability", "",
        "For each dimension, the profile holds that dimension's positive label, then its negative label; a",
        "pair flips when the preferred response changes.", "",
        "| pairs | flipped (%) | pairs measured |", "|---|---|---|",
        f"| non-neutral on the dimension | {pct(c['flip_non_neutral'])} | {c['pairs_non_neutral']} |",
        f"| neutral on the dimension | {pct(c['flip_neutral'])} | {c['pairs_neutral']} |", "",
        f"Non-neutral pairs where both profiles prefer the response on their side: {pct(c['follows_non_neutral'])} %. "
        f"Dimensions measured: {c['dims_measured']} of 90.",
    ])


def _targets(res: AlignerResults) -> str:
    lines = ["## Targets", "", "| target | threshold | measured | met |", "|---|---|---|---|"]
    for t in targets(res):
        met = "not measured" if t["met"] is None else ("yes" if t["met"] else "**no**")
        value = f"{100 * t['measured']:+.2f} points" if "gain" in t["target"] else f"{pct(t['measured'])} %"
        lines.append(f"| {t['target']} | {t['threshold']} | {value} | {met} |")
    return "\n".join(lines)


def _run(res: AlignerResults) -> str:
    s = res.speed
    return "\n".join([
        "## Run", "",
        f"* scored {int(s['pairs'])} pairs in {s['seconds']:.1f} s: {s['pairs_per_second']:.1f} pairs/s",
        f"* MLflow registry: {res.champion.get('reason', 'not consulted')}",
        f"* figures: `plots/{res.aligner}/*.png`; plot data: `plots/{res.aligner}/*.csv`; per-pair scores: MLflow "
        "artifacts `scores/*.parquet` of this run",
    ])
