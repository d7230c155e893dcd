"""The generation results in evaluate@<aligner>'s outputs: the `generation` section of metrics/<aligner>.json and
the "Generation" section of reports/<aligner>.md (from data/generate/<aligner>/summary.json)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from alignx.evaluation.report import pct
from alignx.generation.files import SUMMARY

# Issue 24's targets: win rate against the base prompted with the persona on test (per aligner) and on novel,
# controllability in generation (PBA), well-formed share.
WIN_TARGET = {"pba": 0.70, "ica": 0.60}
NOVEL_TARGET, CONTROL_TARGET, WELL_FORMED_TARGET = 0.5, 0.8, 0.95
SETS = ("test", "novel")


def read_summary(folder: Path) -> dict[str, Any] | None:
    """The judged summary of a generate output folder, None when the stage has not run."""
    path = Path(folder) / SUMMARY
    return json.loads(path.read_text()) if path.exists() else None


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)


def targets(aligner: str, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """key, target, threshold, measured, met (None when not measured)."""
    vs = summary["vs_base_persona"]
    rows = [
        ("generation_vs_base_persona_test", "generation win rate vs base + persona on test", f">= {WIN_TARGET.get(aligner, 0.6):.2f}", _num(vs["win_rate"]),
         lambda v: v >= WIN_TARGET.get(aligner, 0.6)),
        ("generation_vs_base_persona_novel", "generation win rate vs base + persona on novel", f"> {NOVEL_TARGET}", _num(vs["by_set"]["novel"]["win_rate"]),
         lambda v: v > NOVEL_TARGET),
        ("generation_vs_base_no_persona_novel", "generation win rate vs base, no persona, on novel", f"> {NOVEL_TARGET}",
         _num(summary["vs_base_no_persona"]["by_set"]["novel"]["win_rate"]), lambda v: v > NOVEL_TARGET),
        ("generation_well_formed", "well-formed generations", f">= {WELL_FORMED_TARGET:.0%}", _num(summary["well_formed"]),
         lambda v: v >= WELL_FORMED_TARGET),
    ]
    if "controllability" in summary:
        rows.append(("generation_controllability", "controllability in generation (label followed)", f">= {CONTROL_TARGET:.0%}",
                     _num(summary["controllability"]["follows"]), lambda v: v >= CONTROL_TARGET))
    return [{"key": key, "target": n, "threshold": t, "measured": v, "met": None if math.isnan(v) else bool(ok(v))}
            for key, n, t, v, ok in rows]


def metrics_section(summary: dict[str, Any]) -> dict[str, Any]:
    """The numeric `generation` section (DVC metrics): win rates with counts per set and mode, the systems'
    well-formed share and perplexity, controllability and speed. Examples stay in the report."""
    doc: dict[str, Any] = {}
    for baseline in ("base_persona", "base_no_persona"):
        vs = summary[f"vs_{baseline}"]
        doc[f"vs_{baseline}"] = {**{k: vs[k] for k in ("win_rate", "wins", "ties", "losses", "n")},
                                 **{name: sub for name, sub in vs["by_set"].items() if name != "test"}}
    doc["well_formed"] = summary["well_formed"]
    doc["perplexity"] = summary["perplexity"]
    doc["systems"] = summary["systems"]
    if "controllability" in summary:
        doc["controllability"] = summary["controllability"]
    if "llm_judge" in summary:
        doc["llm_judge"] = summary["llm_judge"]
    doc["speed"] = {k: v for k, v in summary["speed"].items() if isinstance(v, (int, float))}
    return doc


def attach(doc: dict[str, Any], aligner: str, summary: dict[str, Any] | None) -> dict[str, Any]:
    """The metrics document with `generation` and the generation targets added (existing keys untouched)."""
    if summary is None:
        return doc
    doc = {**doc, "generation": metrics_section(summary)}
    met = {t["key"]: int(t["met"]) for t in targets(aligner, summary) if t["met"] is not None}
    doc["targets_met"] = {**doc.get("targets_met", {}), **met}
    return doc


def _win_row(label: str, w: dict[str, Any]) -> str:
    return f"| {label} | {pct(w['win_rate'])} | {w['wins']} / {w['ties']} / {w['losses']} | {w['n']} |"


def markdown(aligner: str, summary: dict[str, Any]) -> str:
    """The report's "Generation" section."""
    lines = ["## Generation", "",
             "Responses sampled from the aligner, the base prompted with the persona (baseline b) and the base on the "
             "post alone (baseline a), judged with known truth: each response is read back into its per-dimension "
             "intensities through the world's phrase banks and scored against the user's true preferences "
             "(utility = sum of preference x intensity); win rate = (wins + ties / 2) / n over the same records.", ""]
    for baseline, label in (("base_persona", "base + persona (b)"), ("base_no_persona", "base, no persona (a)")):
        lines += [f"**{aligner.upper()} against the {label}**", "", "| set | win rate % | wins / ties / losses | n |",
                  "|---|---:|---:|---:|"]
        lines += [_win_row(name, w) for name, w in summary[f"vs_{baseline}"]["by_set"].items()]
        lines.append("")
    lines += ["| system | well-formed % | ended with EOS % | parses % | known text % | markers / response | utility != 0 % | mean utility | median perplexity (base) | mean tokens | n |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for system, s in summary["systems"].items():
        lines.append(f"| {system} | {pct(s['well_formed'])} | {pct(s['ended'])} | {pct(s['parses'])} | "
                     f"{pct(s.get('known_chars'))} | {s.get('markers_mean', float('nan')):.2f} | "
                     f"{pct(s.get('utility_nonzero'))} | "
                     f"{s['utility_mean']:.2f} | {s['perplexity_median']:.2f} | {s['tokens_mean']:.1f} | {s['n']} |")
    lines += ["", "Well-formed: ended with EOS within the token budget, not empty, every sentence a known sentence of the "
              "world's banks, no dimension at both poles. Known text: the share of characters inside known sentences. "
              "Perplexity: under the base model given the post alone."]
    control = summary.get("controllability")
    if control:
        lines += ["", f"**Controllability in generation** ({control['n']} cases, {control['dims']} dimensions): the "
                  f"judged intensity of the flipped dimension follows its label under both polarities in "
                  f"{pct(control['follows'])} % (positive {pct(control['follows_positive'])} %, negative "
                  f"{pct(control['follows_negative'])} %; the dimension shows at all in {pct(control['expressed'])} %). "
                  f"Other dimensions: {control['others_changed']:.2f} change per case (mean |change| "
                  f"{control['others_abs_change']:.3f} per dimension), against {control['others_changed_resample']:.2f} "
                  f"({control['others_abs_change_resample']:.3f}) between two samples of the same profile."]
    llm = summary.get("llm_judge")
    if llm:
        lines += ["", "**LLM judge** (both orders): " + "; ".join(
            f"{k}: win rate {pct(v['win_rate'])} %, position bias {v['position_bias']:+.3f}, consistency "
            f"{pct(v['consistency'])} %, n {v['n']}" for k, v in llm.items())]
    speed = summary["speed"]
    lines += ["", f"Generation: {speed['new_tokens']:.0f} tokens in {speed['seconds']:.1f} s "
              f"({speed['tokens_per_second']:.0f} tokens/s); stage {speed.get('stage_seconds', float('nan')):.1f} s."]
    for k, ex in enumerate(summary.get("examples", []), 1):
        u = ex["utility"]
        lines += ["", f"**Example {k}**: the same post for two users with opposite preferences (opposite poles on "
                  f"{ex.get('opposed', '?')} dimensions).", "", f"> {ex['post']}", "",
                  "| | user 1 | user 2 |", "|---|---|---|",
                  f"| true preferences | {ex['profiles'][0]} | {ex['profiles'][1]} |",
                  f"| {aligner.upper()} response | {_cell(ex['responses'][0])} | {_cell(ex['responses'][1])} |",
                  f"| utility for user 1 / user 2 | {u[0][0]} / {u[0][1]} | {u[1][0]} / {u[1][1]} |"]
    lines += ["", "| generation target | threshold | measured | met |", "|---|---|---:|---|"]
    for t in targets(aligner, summary):
        met = "-" if t["met"] is None else ("yes" if t["met"] else "**no**")
        lines.append(f"| {t['target']} | {t['threshold']} | {pct(t['measured'])} | {met} |")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or "(empty)"


def insert(report_text: str, section: str) -> str:
    """The report with `section` placed before its Limitations (at the end when there is none)."""
    marker = "## Limitations"
    if marker in report_text:
        head, tail = report_text.split(marker, 1)
        return f"{head}{section}\n\n{marker}{tail}"
    return f"{report_text}\n\n{section}"
