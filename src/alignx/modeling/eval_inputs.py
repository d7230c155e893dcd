"""Stage `eval_inputs@{splits,benchmarks}`: the evaluation-only inputs, formatted (alignx.inputs.format) and scored
by the base model (alignx.modeling.reference) exactly as `format` and `reference` do for training, under
`data/eval/<group>/{format,reference}/<aligner>/`.

`splits`: the test and novel splits of `data/pairs`; `benchmarks`: every file of `data/benchmarks`. Kept apart
from the training inputs so that changing a benchmark re-runs only its inputs and `evaluate`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from alignx.config import FormatConfig, SpaceConfig
from alignx.contracts import BENCHMARKS_DIR, EVAL_GROUPS, EVAL_SPLITS, PAIRS_DIR
from alignx.inputs import format as formatting
from alignx.modeling import reference
from alignx.modeling.parallel_scoring import ScoringJob
from alignx.pipeline import gates


def sources(group: str) -> dict[str, Path]:
    """Eval set name -> records file of one group."""
    if group not in EVAL_GROUPS:
        raise ValueError(f"eval_inputs: unknown group {group!r} (expected one of {EVAL_GROUPS})")
    if group == "splits":
        return {s: PAIRS_DIR / f"{s}.parquet" for s in EVAL_SPLITS}
    manifest = json.loads((BENCHMARKS_DIR / "manifest.json").read_text())
    return {name: BENCHMARKS_DIR / f"{name}.parquet" for name in manifest["benchmarks"]}


@dataclass
class EvalInputs:
    """What writing one group's inputs found: the formatted files' gate frames, the reference gates, figures."""

    frames: formatting.Frames
    reference_gates: list[gates.GateResult]
    reference_figures: dict[str, float]


def write_eval_inputs(
    tmp: Path, group: str, tokenizer, job: ScoringJob, fmt: FormatConfig, spc: SpaceConfig,
    prepare: formatting.Prepare = None,
) -> EvalInputs:
    """Format every eval set of `group` into `tmp/format` (PBA records through `prepare` first, e.g. the
    annotator's directions) and score it into `tmp/reference` (`job`: the base model and its processes)."""
    tmp.mkdir(parents=True)
    frames = formatting.format_all(tmp / "format", sources(group), tokenizer, fmt, spc, prepare)
    found, figures = reference.score_all(job, tmp / "format", tmp / "reference")
    return EvalInputs(frames, found, figures)


def gate_eval_inputs(group: str, written: EvalInputs, max_len: int) -> list[gates.GateResult]:
    """The format gate of every formatted file and the reference gate of every scored one."""
    return formatting.format_gates(written.frames, max_len, f"eval_{group}") + written.reference_gates


def eval_inputs_figures(written: EvalInputs) -> dict[str, float]:
    """Length figures of the formatted files and the reference pass's figures (`reference.` prefix)."""
    return {**formatting.format_figures(written.frames),
            **{f"reference.{k}": v for k, v in written.reference_figures.items()}}
