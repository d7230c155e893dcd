"""Evaluation inputs: formatted examples joined with their reference log-probs and their source records, gated
like `format` (ids unique, lengths within max_len, non-empty responses, exactly one finite reference per example,
every example's record found)."""

from __future__ import annotations

import json
from pathlib import Path

import great_expectations.expectations as gxe
import numpy as np
import pandas as pd

from alignx import gates
from alignx.formatting import DEMO_FIELD, DIRECTION, PAIR, UGC

FORMAT_DIR, REFERENCE_DIR = Path("data/format"), Path("data/reference")
PAIRS_DIR, BENCHMARKS_DIR = Path("data/pairs"), Path("data/benchmarks")
EXAMPLE_COLUMNS = ["example_id", "record_id", "split", "mode", "n_ugc", "n_pair", "has_demo", "n_cut", "profile",
                   "direction", "prompt_ids", "chosen_ids", "rejected_ids"]  # fmt: skip
RECORD_COLUMNS = ["record_id", "prompt", "chosen", "rejected", DIRECTION, DEMO_FIELD, UGC, PAIR]


class EvalInputError(ValueError):
    """An evaluation input file is missing or lacks a contract column."""


def paths(aligner: str, name: str, benchmark: bool = False) -> dict[str, Path]:
    """The three files of one eval set: formatted examples, reference log-probs, source records."""
    records = (BENCHMARKS_DIR if benchmark else PAIRS_DIR) / f"{name}.parquet"
    return {
        "examples": FORMAT_DIR / aligner / f"{name}.parquet",
        "reference": REFERENCE_DIR / aligner / f"{name}.parquet",
        "records": records,
    }


def _read(path: Path, columns: list[str]) -> pd.DataFrame:
    if not path.exists():
        raise EvalInputError(f"{path}: not found (run the stage that writes it first: `dvc repro`)")
    frame = pd.read_parquet(path)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise EvalInputError(f"{path}: lacks column(s) {missing} (has {list(frame.columns)})")
    return frame[columns]


def load(files: dict[str, Path]) -> pd.DataFrame:
    """Examples with `ref_chosen` / `ref_rejected` and the record's text and history attached (left joins: the
    gate reports what is missing, with the example's row)."""
    examples = _read(files["examples"], EXAMPLE_COLUMNS)
    reference = _read(files["reference"], ["example_id", "ref_chosen", "ref_rejected"])
    records = _read(files["records"], RECORD_COLUMNS).drop_duplicates("record_id")
    counts = reference.groupby("example_id").size().rename("reference_rows")
    frame = examples.merge(reference.drop_duplicates("example_id"), on="example_id", how="left")
    frame = frame.merge(counts, left_on="example_id", right_index=True, how="left")
    frame = frame.merge(records, on="record_id", how="left", indicator="record_found")
    frame["record_found"] = frame["record_found"] == "both"
    frame["reference_rows"] = frame["reference_rows"].fillna(0).astype(int)
    # Reference rows whose example is not in the examples file: counted so the gate can fail on them.
    frame.attrs["orphan_references"] = int((~reference["example_id"].isin(examples["example_id"])).sum())
    return frame


def gate(frame: pd.DataFrame, name: str, max_len: int) -> gates.GateResult:
    """GX gate of one loaded eval set."""
    n_prompt, n_chosen, n_rejected = (frame[c].map(len) for c in ("prompt_ids", "chosen_ids", "rejected_ids"))
    facts = pd.DataFrame({
        "example_id": frame["example_id"],
        "length": n_prompt + np.maximum(n_chosen, n_rejected),
        "n_chosen": n_chosen,
        "n_rejected": n_rejected,
        "one_reference": frame["reference_rows"] == 1,
        "reference_finite": np.isfinite(frame[["ref_chosen", "ref_rejected"]].to_numpy(dtype=float)).all(axis=1),
        "record_found": frame["record_found"],
        "orphan_references": frame.attrs.get("orphan_references", 0),
    })
    return gates.check(f"evaluate_inputs_{name}", facts, [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToBeUnique(column="example_id"),
        gxe.ExpectColumnValuesToBeBetween(column="length", min_value=2, max_value=max_len),
        gxe.ExpectColumnValuesToBeBetween(column="n_chosen", min_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="n_rejected", min_value=1),
        gates.all_true("one_reference"),
        gates.all_true("reference_finite"),
        gates.all_true("record_found"),
        gxe.ExpectColumnValuesToBeInSet(column="orphan_references", value_set=[0]),
    ])



def listed_benchmarks() -> dict[str, str]:
    """Benchmark name -> source file, as listed in params.yaml `benchmarks.files`."""
    from alignx.config import load_params

    files = (load_params().get("benchmarks") or {}).get("files") or {}
    return {str(name): str(source) for name, source in files.items()}


def eval_sets(aligner: str, splits: list[str], benchmarks: dict[str, str]) -> tuple[dict, dict[str, str]]:
    """The eval sets to load ({name: (paths, is_benchmark)}) and the listed benchmarks skipped, with why.

    A listed benchmark is skipped, and reported, only when the `benchmarks` stage found its folder absent
    (`data/benchmarks/manifest.json`: an offline machine without ../shared); one the stage imported must
    have its formatted and reference files (a missing one is an error, from the gate)."""
    if "test" not in splits:
        raise EvalInputError(f"params.yaml evaluate.splits: {splits} must include 'test' (the main result)")
    sets = {name: (paths(aligner, name), False) for name in splits}
    skipped: dict[str, str] = {}
    if not benchmarks:
        return sets, skipped
    manifest_file = BENCHMARKS_DIR / "manifest.json"
    if not manifest_file.exists():
        raise EvalInputError(f"{manifest_file}: not found, but params list benchmarks {list(benchmarks)} "
                             "(run the `benchmarks` stage first)")
    manifest = json.loads(manifest_file.read_text())
    for name, source in benchmarks.items():
        if name in manifest.get("benchmarks", {}):
            sets[name] = (paths(aligner, name, benchmark=True), True)
        elif not manifest.get("root_present", True):
            skipped[name] = f"not imported: its folder {manifest.get('root')} is absent on this machine ({source})"
        else:
            raise EvalInputError(f"{manifest_file}: benchmark {name!r} ({source}) is listed in params but was not "
                                 "imported (re-run the `benchmarks` stage)")
    return sets, skipped
