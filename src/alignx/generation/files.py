"""The `generate@<aligner>` output folder: `generations.parquet` (one row per response) and `summary.json` (the
judged figures that evaluate@<aligner> puts into metrics/<aligner>.json), and its gate."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import great_expectations.expectations as gxe
import pandas as pd

from alignx.generation.experiment import COLUMNS, SYSTEMS
from alignx.pipeline import gates

GENERATIONS = "generations.parquet"
SUMMARY = "summary.json"  # in data/generate/<aligner>/, written by generate@<aligner>


def concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """All responses in one frame with the contract columns (empty frames skipped)."""
    kept = [f[COLUMNS] for f in frames if len(f)]
    return pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=COLUMNS)


def clean(obj: Any) -> Any:
    """JSON-ready: NaN as null, numpy scalars as Python numbers."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if hasattr(obj, "item"):
        obj = obj.item()
    if isinstance(obj, float) and math.isnan(obj):
        return None
    return obj


def write(folder: Path, generations: pd.DataFrame, summary: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    generations.to_parquet(folder / GENERATIONS, index=False)
    (folder / SUMMARY).write_text(json.dumps(clean(summary), indent=2) + "\n")


def gate(folder: Path, min_non_empty: float) -> list[gates.GateResult]:
    """Every response is a string from a known system and set; each (set, system) of test / novel answers the
    same records; shares are fractions; the aligner's responses are non-empty at least `min_non_empty` of the time."""
    frame = pd.read_parquet(folder / GENERATIONS)
    summary = json.loads((folder / SUMMARY).read_text())
    main = frame[frame["set"].isin(["test", "novel"])]
    counts = main.groupby(["set", "system"]).size().unstack("system") if len(main) else pd.DataFrame()
    same_counts = bool(len(counts)) and bool((counts.nunique(axis=1) == 1).all()) and set(counts.columns) == set(SYSTEMS)
    aligner = main[main["system"] == "aligner"]
    facts = pd.DataFrame([{
        "rows": len(main), "same_counts": same_counts,
        "non_empty_aligner": float((aligner["n_tokens"] > 0).mean()) if len(aligner) else 0.0,
        "well_formed": summary.get("well_formed"),
    }])
    rows = frame.assign(is_text=frame["response"].map(lambda v: isinstance(v, str)))
    return [
        gates.check("generate_responses", rows, [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            gates.all_true("is_text"),
            gxe.ExpectColumnValuesToBeInSet(column="set", value_set=["test", "novel", "control", "contrast"]),
            gxe.ExpectColumnValuesToBeInSet(column="system", value_set=[*SYSTEMS, "aligner_resampled"]),
            gxe.ExpectColumnValuesToBeBetween(column="n_tokens", min_value=0),
        ]),
        gates.check("generate_summary", facts, [
            gxe.ExpectColumnValuesToBeBetween(column="rows", min_value=1),
            gates.all_true("same_counts"),
            gxe.ExpectColumnValuesToBeBetween(column="non_empty_aligner", min_value=min_non_empty, max_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="well_formed", min_value=0, max_value=1),
        ]),
    ]


def flat(summary: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves of the summary as MLflow metric names (examples left out)."""
    out: dict[str, float] = {}
    for key, value in summary.items():
        if key == "examples":
            continue
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and value is not None:
            out[f"{prefix}{key}"] = float(value)
    return out
