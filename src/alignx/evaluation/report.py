"""What evaluation publishes: the DVC metrics document, the targets check and the Markdown report."""

from __future__ import annotations

import math
from typing import Any

from alignx.contracts import MODES
from alignx.readers import READERS
from alignx.evaluation import metrics
from alignx.evaluation.intervals import HIGH, LOW, P_VALUE, bounds
from alignx.evaluation.results import AlignerResults

METHOD_LABELS = {
    "base_no_persona": "Base model, no persona (baseline a)",
    "base_persona": "Base model prompted with the persona (baseline b)",
    # Shown when scored (stage vpl): the paper's VPL baseline, a reward model conditioned on a latent user vector.
    "vpl": "VPL, latent user vector from the PAIR items shown (baseline c)",
    "aligner": "{name} (this run)",
}
# The paper's figures (Llama-3.1-8B, 1.3M real records), shown beside ours for scale, never compared as equals.
PAPER = {"ica": {"test": "75.19", "p-soups": "63.33"}, "pba": {"test": "71.10", "p-soups": "81.69", "oracle": "91.36"}}
LIMITATIONS = """\
* **Synthetic data.** The default pipeline trains and evaluates on the seeded synthetic AlignX world (responses
  rendered from per-dimension intensities, choices by a noisy utility). Its accuracies measure how well the
  aligner recovers that world's preferences, not human ones; they are not comparable to the paper's numbers.
* **Model size.** The default aligner is a tiny Llama-architecture model trained from scratch on the corpus (the
  paper: Llama-3.1-8B). Baselines are the same tiny base model, not the paper's prompted 7-8B models.
* **Benchmarks.** A benchmark is evaluated only when its file is present; P-Soups profiles are the released text,
  its personas carry no direction vectors, so it has no oracle-profile, controllability, evidence or
  profile-reader measurement.
* **Controllability** is measured with single-dimension profiles (the dimension's positive label against its
  negative label), on test pairs sampled per dimension; dimensions with no such test pair are not measured.
  The placebo swaps in the labels of another dimension the pair is neutral on, drawn at random.
"""
# What the bootstrap resampled, per eval set (`ci_unit`, eval_sets.clusters).
UNIT_LABELS = {"user": "users", "profile": "profiles (no user ids released)", "record": "records (no user ids released)"}
EVIDENCE_LABELS = {
    "favours": "favours the chosen response",
    "silent": "says nothing about the pair (or nothing inferable was shown)",
    "misleads": "favours the rejected response",
}


def pct(value: float | None) -> str:
    """A fraction as a percentage with two decimals (the paper's style); '-' when not measured."""
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.2f}"


def interval_cell(summary: dict, key: str, signed: bool = False) -> str:
    """`summary[key]` as a percentage (points with a sign when `signed`) with its interval when it has one:
    `84.10 [81.93, 86.20]`."""
    value = summary.get(key)
    fmt = (lambda v: f"{100 * v:+.2f}") if signed else pct  # noqa: E731
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    ci = bounds(summary, key)
    return fmt(value) if ci is None else f"{fmt(value)} [{fmt(ci[0])}, {fmt(ci[1])}]"


def p_cell(value: float | None) -> str:
    """A p-value with three decimals ('< 0.001' at the bootstrap's floor); '-' when not measured."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def targets(res: AlignerResults) -> list[dict[str, Any]]:
    """The issue's targets for this aligner: name, threshold, measured value, its interval (`low`, `high`; None
    without one), `met` and `within_noise` (both None when not measured).

    A target with an interval is met only when the whole interval clears the threshold; when the measured value
    clears it but the interval does not, it is `within_noise` (not met). Without an interval, the value decides."""
    test = res.sets["test"]
    rows = [("gain over best baseline on test", ">= 17 points", test, "gain", lambda v: v >= 0.17)]
    for name, summary in res.sets.items():
        if name.startswith("p-soups") or name.startswith("psoups"):
            rows.append((f"gain over best baseline on {name}", "> 0", summary, "gain", lambda v: v > 0))
    if res.oracle is not None:
        rows.append(("oracle-profile accuracy on test", ">= 85 %", res.oracle, "accuracy", lambda v: v >= 0.85))
    if res.control is not None:
        # Issue 26's targets: a label the pair contrasts moves the margin its way, one it does not contrast leaves
        # the preference, and an unrelated dimension's labels move it at chance (no reaction to polarity alone).
        rows.append(("follows on non-neutral pairs", ">= 80 %", res.control, "follows_non_neutral", lambda v: v >= 0.8))
        rows.append(("flips on neutral pairs", "<= 10 %", res.control, "flip_neutral", lambda v: v <= 0.1))
        if "placebo_follows" in res.control:
            rows.append(("placebo follows", "45-55 %", res.control, "placebo_follows", lambda v: 0.45 <= v <= 0.55))
    out = []
    for name, threshold, summary, key, ok in rows:
        value, ci = summary[key], bounds(summary, key)
        measured = value is not None and not math.isnan(value)
        point = bool(ok(value)) if measured else None
        # Each threshold is one-sided and monotone, or a band: the interval clears it exactly when both its ends do.
        met = point if ci is None or not measured else bool(ok(ci[0]) and ok(ci[1]))
        out.append({"target": name, "threshold": threshold, "measured": value, "low": ci[0] if ci else None,
                    "high": ci[1] if ci else None, "met": met,
                    "within_noise": None if not measured else bool(point and not met)})
    return out


def metrics_document(res: AlignerResults) -> dict[str, Any]:
    """metrics/<aligner>.json: numbers only (DVC metrics compare them across experiments)."""
    numeric = lambda d: {k: v for k, v in d.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}  # noqa: E731
    doc: dict[str, Any] = {"beta": res.beta}
    doc["test"] = numeric(res.sets["test"])
    # Per mode: the figures of `by_mode`, then what the mode's own summary adds (best baseline, gains, intervals).
    doc["test_by_mode"] = {
        row["mode"]: {**{k: row[k] for k in ("aligner", "base_no_persona", "base_persona", "n")},
                      **{k: v for k, v in numeric(res.mode_sets.get(row["mode"], {})).items()
                         if k not in row and not k.startswith(tuple(metrics.DIAGNOSTICS))},
                      **{k: row[k] for k in row if k not in ("mode", "aligner", "base_no_persona", "base_persona", "n")}}
        for row in res.by_mode.to_dict("records")
    }
    doc["eval_sets"] = {name: numeric(s) for name, s in res.sets.items() if name != "test"}
    # The test split's readers and evidence split at the top level (the main result), the others per eval set.
    for name in res.sets:
        target = doc if name == "test" else doc["eval_sets"][name]
        if name in res.readers:
            target["readers"] = res.readers[name]
        if name in res.evidence:
            target["evidence"] = res.evidence[name]
    doc["robustness"] = {
        kind: {str(int(r["k"])): r[kind] for r in res.robustness.to_dict("records") if not math.isnan(r[kind])}
        for kind in ("ugc", "pair")
    }
    # Each curve's interval beside it: robustness.<source>_ci_low / _ci_high, keyed by k like the curve.
    for kind in ("ugc", "pair"):
        for end in (LOW, HIGH):
            if kind + end in res.robustness.columns:
                doc["robustness"][kind + end] = {str(int(r["k"])): r[kind + end] for r in res.robustness.to_dict("records")
                                                 if not math.isnan(r[kind]) and not math.isnan(r[kind + end])}
    if res.oracle is not None:
        doc["oracle"] = res.oracle
    if res.control is not None:
        doc["controllability"] = res.control
    if res.reference_variant is not None:
        doc["reference_variant"] = res.reference_variant
    if res.bootstrap:
        doc["intervals"] = res.bootstrap
    doc["speed"] = res.speed
    doc["champion"] = {"moved": int(bool(res.champion.get("moved"))), "version": res.champion.get("version")}
    checked = targets(res)
    doc["targets_met"] = {t["target"].replace(" ", "_"): int(t["met"]) for t in checked if t["met"] is not None}
    # 1 where the measured value clears the threshold but its interval does not (the target is not met).
    doc["targets_within_noise"] = {t["target"].replace(" ", "_"): int(t["within_noise"])
                                   for t in checked if t["within_noise"] is not None}
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
    sections = [_results_table(res), _intervals_table(res)]
    if res.reference_variant:
        sections.append(_reference_variant(res.reference_variant))
    sections += [_readers(res), _robustness(res), _novel(res)]
    if res.oracle is not None:
        sections.append(_oracle(res))
    if res.control is not None:
        sections.append(_controllability(res.control))
    sections += [_targets(res), _run(res), "## Limitations\n\n" + LIMITATIONS]
    return f"# Evaluation of the {res.aligner.upper()} aligner\n\n" + "\n\n".join(sections)


def _baselines(res: AlignerResults) -> list[str]:
    """The baselines measured (metrics.baselines on the score tables), the paper's two when not recorded."""
    return list(res.sets["test"].get("baselines", metrics.BASELINES))


def _columns(res: AlignerResults) -> dict[str, dict]:
    """Report column -> its summary (aligner, every baseline, best_baseline, n, their intervals when measured):
    test, test per mode, the rest."""
    columns = {"test (all)": res.sets["test"]}
    by_mode = {row["mode"]: row for row in res.by_mode.to_dict("records")}
    for mode in MODES:
        if mode in by_mode:
            row = by_mode[mode]
            best = max(row[b] for b in _baselines(res) if b in row)
            extra = {k: v for k, v in res.mode_sets.get(mode, {}).items() if not k.startswith(tuple(metrics.DIAGNOSTICS))}
            columns[f"test {mode.upper()}"] = {**extra, **row, "best_baseline": best}
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
    labels = {**{b: METHOD_LABELS.get(b, f"{b} (baseline)") for b in _baselines(res)}, "aligner": METHOD_LABELS["aligner"]}
    for method, label in labels.items():
        lines.append(f"| {label.format(name=name)} | " + " | ".join(pct(c.get(method)) for c in columns.values()) + " |")
    if any("base_no_persona_per_token" in c for c in columns.values()):  # per mode it is not computed
        lines.append("| Base model, no persona, per-token log-probs (diagnostic, not a baseline) | "
                     + " | ".join(pct(c.get("base_no_persona_per_token")) for c in columns.values()) + " |")
    gains = [f"{100 * (c['aligner'] - c['best_baseline']):+.2f}" for c in columns.values()]
    lines.append("| gain over the best baseline (points) | " + " | ".join(gains) + " |")
    lines.append("| pairs | " + " | ".join(str(int(c["n"])) for c in columns.values()) + " |")
    paper = PAPER.get(res.aligner, {})
    lines += ["", f"Paper, for scale only (Llama-3.1-8B, real data): {name} {paper.get('test', '-')} on AlignX_test, "
              f"{paper.get('p-soups', '-')} on P-Soups; prompted 7-8B baselines 34-67."]
    return "\n".join(lines)


def _intervals_table(res: AlignerResults) -> str:
    """One row per eval set and test mode: pairs, the resampling units, the aligner, the best baseline and the
    gains with their intervals and p-values (alignx.evaluation.intervals)."""
    if not res.bootstrap:
        return "### Intervals\n\nNot measured (no bootstrap ran)."
    name, level = res.aligner.upper(), res.bootstrap["level"]
    lines = [
        "### Intervals", "",
        f"{100 * level:g} % bootstrap intervals ({res.bootstrap['resamples']} resamples of whole users: a user's records "
        "are correlated); a gain's",
        "interval and two-sided p-value come from the same paired resamples (both methods scored on the drawn users).",
        "A benchmark released without user ids is resampled by the profile its records share, else by record.", "",
        f"| eval set | pairs | resampled | {name} (%) | best baseline (%) | gain over it (points) | p | gain over each baseline (points, p) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for column, s in _columns(res).items():
        if bounds(s, "aligner") is None:
            continue
        unit = s.get("ci_unit") or res.sets["test"].get("ci_unit")
        best = s.get("best_baseline_name") or max(_baselines(res), key=lambda b: s.get(b, -1))
        each = "; ".join(f"{b} {interval_cell(s, f'gain_vs_{b}', signed=True)}, p {p_cell(s.get(f'gain_vs_{b}' + P_VALUE))}"
                         for b in _baselines(res) if f"gain_vs_{b}" in s)
        lines.append(f"| {column} | {int(s['n'])} | {s.get('clusters', '-')} {UNIT_LABELS.get(unit, unit)} | "
                     f"{interval_cell(s, 'aligner')} | {best} {interval_cell(s, 'best_baseline')} | "
                     f"{interval_cell(s, 'gain', signed=True)} | {p_cell(s.get('gain' + P_VALUE))} | {each} |")
    return "\n".join(lines)


def _reference_variant(section: dict[str, dict]) -> str:
    """PBA against the reference on the ICA prompt (the paper's script), beside the same-input figure."""
    lines = [
        "### Reference on the ICA prompt (parity only)", "",
        "The paper's accuracy script scores PBA's reference model on the ICA prompt (the persona's history), not on",
        "PBA's own input. The figures above use the reference on the same input as PBA, the right comparison; the",
        "variant is reported for parity with the paper's numbers only. Same pairs; the difference is paired",
        "(variant minus same input).", "",
        "| eval set | same input, the default (%) | reference on the ICA prompt, parity only (%) | difference (points) | p | pairs |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in section.items():
        lines.append(f"| {name} | {interval_cell(s, 'same_input')} | {interval_cell(s, 'accuracy')} | "
                     f"{interval_cell(s, 'difference', signed=True)} | {p_cell(s.get('difference' + P_VALUE))} | {s['n']} |")
    return "\n".join(lines)


def _readers(res: AlignerResults) -> str:
    """Per eval set: the aligner next to every reference reader on the same pairs, and the evidence split."""
    name = res.aligner.upper()
    lines = [
        "## Readers", "",
        "Fixed rules scored on the same pairs as the aligner, so a figure reads against what a simple rule gets.",
        "A reader earns 1 when it prefers the chosen response, 0 the rejected one, 0.5 when it cannot tell.",
        f"Each row gives {name}'s accuracy on exactly the pairs that reader judged.",
    ]
    for set_name, summary in res.readers.items():
        measured = {r: v for r, v in summary.items() if v["n"] > 0}
        evidence = res.evidence.get(set_name, {})
        if not measured and not any(e["n"] for e in evidence.values()):
            continue
        lines += ["", f"### {set_name}", "",
                  f"| reader | what it reads | reader (%) | {name} on the same pairs (%) | pairs |", "|---|---|---|---|---|"]
        for reader, v in measured.items():
            lines.append(f"| {reader} | {READERS[reader]} | {interval_cell(v, 'accuracy')} | {interval_cell(v, 'aligner')} | "
                         f"{v['n']} |")
        missing = [r for r in summary if r not in measured]
        if missing:
            lines += ["", f"Not measured on {set_name} (no direction vectors or no known users): {', '.join(missing)}."]
        if any(e["n"] for e in evidence.values()):
            lines += ["", f"Evidence split: {name}'s accuracy by what the history shown says about the pair (the",
                      "perfect reader of the profile inferred from it).", "",
                      f"| the history shown | {name} (%) | pairs |", "|---|---|---|"]
            lines += [f"| {EVIDENCE_LABELS[k]} | {interval_cell(e, 'accuracy')} | {e['n']} |" for k, e in evidence.items()]
    return "\n".join(lines)


def _robustness(res: AlignerResults) -> str:
    lines = ["## Robustness to limited user data", "",
             "Aligner accuracy on test by the number of history items shown (0 = the post alone). Row k holds the",
             "sampled records with at least k items of that source, so rows differ in records as well as in k.", "",
             "| items | UGC only | PAIR only |", "|---|---|---|"]
    for r in res.robustness.to_dict("records"):
        lines.append(f"| {int(r['k'])} | {interval_cell(r, 'ugc')} (n={int(r['n_ugc'])}) | {interval_cell(r, 'pair')} "
                     f"(n={int(r['n_pair'])}) |")
    return "\n".join(lines)


def _novel(res: AlignerResults) -> str:
    if "novel" not in res.sets:
        return "## Adaptation to novel preferences\n\n`novel` split: not evaluated."
    s = res.sets["novel"]
    return ("## Adaptation to novel preferences\n\n`novel` split (preferences along dimensions no training user had): "
            f"{res.aligner.upper()} {interval_cell(s, 'aligner')} against the best baseline {interval_cell(s, 'best_baseline')}"
            f" (gain {interval_cell(s, 'gain', signed=True)} points, p {p_cell(s.get('gain' + P_VALUE))}).")


def _oracle(res: AlignerResults) -> str:
    paper = PAPER.get(res.aligner, {}).get("oracle", "-")
    ceiling = res.readers.get("test", {}).get("inferred_profile", {}).get("accuracy")
    return ("## Oracle profile (upper bound)\n\nPBA with the oracle profile: the pair's own judged direction, an "
            "oracle as in the paper's table (no history reveals the preference a pair was judged by): "
            f"{interval_cell(res.oracle, 'accuracy')} on {res.oracle['n']} pairs. With the profile inferred from the "
            f"history shown: {interval_cell(res.sets['test'], 'aligner')}, where a perfect reader of that profile gets "
            f"{pct(ceiling)}. "
            f"Paper: {paper}.")


def _controllability(c: dict) -> str:
    lines = [
        "## Controllability", "",
        "For each dimension, the profile holds that dimension's positive label, then its negative label; a",
        "pair flips when the preferred response changes. It follows when its reward margin moves towards the",
        "response on the pair's side of that dimension.", "",
        "| pairs | flipped (%) | follows (%) | pairs measured |", "|---|---|---|---|",
        f"| non-neutral on the dimension | {interval_cell(c, 'flip_non_neutral')} | "
        f"{interval_cell(c, 'follows_non_neutral')} | {c['pairs_non_neutral']} |",
        f"| neutral on the dimension | {interval_cell(c, 'flip_neutral')} | - | {c['pairs_neutral']} |",
    ]
    if "placebo_follows" in c:
        lines.append("| placebo: the same non-neutral pairs, an unrelated dimension's labels | "
                     f"{interval_cell(c, 'placebo_flip')} | {interval_cell(c, 'placebo_follows')} | {c['pairs_placebo']} |")
    lines += ["", f"Non-neutral pairs that flip the right way round (both profiles prefer the response on their "
              f"side): {interval_cell(c, 'flip_right_non_neutral')} %. Dimensions measured: {c['dims_measured']} of 90."]
    if "follows_specific" in c and not math.isnan(c["follows_specific"]):
        p_value = f" (paired interval; p {p_cell(c['follows_specific' + P_VALUE])})" if bounds(c, "follows_specific") else ""
        lines.append("What the dimension's own label adds over the placebo (follows minus placebo follows): "
                     f"{interval_cell(c, 'follows_specific', signed=True)} points{p_value}.")
    if "shift_neutral" in c:
        sets = [("non-neutral", "non_neutral"), ("neutral", "neutral"), ("placebo", "placebo")]
        medians = [f"{what} {c[f'shift_{key}']:.2f} / {c[f'common_{key}']:.2f}" for what, key in sets if f"shift_{key}" in c]
        lines.append("Why pairs flip: under the two labels a pair's margins are common +- shift, and it flips exactly "
                     f"when |shift| > |common|. Median |shift| / |common|: {', '.join(medians)}.")
    return "\n".join(lines)


def _targets(res: AlignerResults) -> str:
    lines = ["## Targets", "", "A target with an interval (in brackets) is met only when the whole interval clears the "
             "threshold; when the measured value clears it but the interval does not, it is within noise (not met).", "",
             "| target | threshold | measured | met |", "|---|---|---|---|"]
    for t in targets(res):
        met = ("not measured" if t["met"] is None else "yes" if t["met"]
               else "**no, within noise**" if t["within_noise"] else "**no**")
        gain = "gain" in t["target"]
        value = f"{100 * t['measured']:+.2f} points" if gain else f"{pct(t['measured'])} %"
        if t["low"] is not None:
            ends = [f"{100 * v:+.2f}" if gain else pct(v) for v in (t["low"], t["high"])]
            value += f" [{ends[0]}, {ends[1]}]"
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
