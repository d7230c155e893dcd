"""Evaluation inputs: formatted examples joined with their reference log-probs and their source records, gated
like `format` (ids unique, lengths within max_len, non-empty responses, exactly one finite reference per example,
every example's record found)."""

from __future__ import annotations

from pathlib import Path

import great_expectations.expectations as gxe
import numpy as np
import pandas as pd

from alignx.contracts import BENCHMARKS_DIR, DEMO, DIRECTION, EVAL_DIR, PAIR, PAIRS_DIR, UGC, USERS_FILE, vpl_scores_file
from alignx.pipeline import gates

EXAMPLE_COLUMNS = ["example_id", "record_id", "user_id", "split", "mode", "n_ugc", "n_pair", "has_demo", "n_cut",
                   "profile", "direction", "shown_profile", "prompt_text", "prompt_ids", "chosen_ids",
                   "rejected_ids"]  # fmt: skip
RECORD_COLUMNS = ["record_id", "prompt", "chosen", "rejected", DIRECTION, DEMO, UGC, PAIR]


class EvalInputError(ValueError):
    """An evaluation input file is missing or lacks a contract column."""


def paths(aligner: str, name: str, benchmark: bool = False) -> dict[str, Path]:
    """The three files of one eval set: formatted examples and reference log-probs (stage `eval_inputs`), and
    the source records."""
    group = EVAL_DIR / ("benchmarks" if benchmark else "splits")
    return {
        "examples": group / "format" / aligner / f"{name}.parquet",
        "reference": group / "reference" / aligner / f"{name}.parquet",
        "records": (BENCHMARKS_DIR if benchmark else PAIRS_DIR) / f"{name}.parquet",
    }


def _read(path: Path, columns: list[str]) -> pd.DataFrame:
    if not path.exists():
        raise EvalInputError(f"{path}: not found (run the stage that writes it first: `dvc repro`)")
    frame = pd.read_parquet(path)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise EvalInputError(f"{path}: lacks column(s) {missing} (has {list(frame.columns)})")
    return frame[columns]


def users(path: Path | None = USERS_FILE) -> pd.DataFrame:
    """The users' true preference vectors: user_id, user_direction. Empty when `path` is None or absent (records
    imported from elsewhere have no synthetic users; the `user_profile` reader is then not measured)."""
    if path is None or not path.exists():
        return pd.DataFrame({"user_id": pd.Series(dtype=str), "user_direction": pd.Series(dtype=object)})
    frame = _read(path, ["user_id", "direction"]).rename(columns={"direction": "user_direction"})
    return frame.drop_duplicates("user_id")


def load(files: dict[str, Path], users_file: Path | None = USERS_FILE) -> pd.DataFrame:
    """Examples with `ref_chosen` / `ref_rejected`, the record's text and history, and the user's true vector
    `user_direction` (null for a user not in `users_file`) attached (left joins: the gate reports what is
    missing, with the example's row). With a `vpl` file among `files` (`with_vpl`) that exists, VPL's rewards
    `vpl_chosen` / `vpl_rejected` too."""
    examples = _read(files["examples"], EXAMPLE_COLUMNS)
    if examples.empty:  # e.g. no novel users in imported data: nothing to join (the caller skips the set)
        return examples
    reference = _read(files["reference"], ["example_id", "ref_chosen", "ref_rejected"])
    records = _read(files["records"], RECORD_COLUMNS).drop_duplicates("record_id")
    counts = reference.groupby("example_id").size().rename("reference_rows")
    frame = examples.merge(reference.drop_duplicates("example_id"), on="example_id", how="left")
    frame = frame.merge(counts, left_on="example_id", right_index=True, how="left")
    frame = frame.merge(records, on="record_id", how="left", indicator="record_found")
    frame["record_found"] = frame["record_found"] == "both"
    frame = frame.merge(users(users_file), on="user_id", how="left")
    frame["reference_rows"] = frame["reference_rows"].fillna(0).astype(int)
    if "vpl" in files and Path(files["vpl"]).exists():
        frame = _with_vpl(frame, Path(files["vpl"]))
    # Reference rows whose example is not in the examples file: counted so the gate can fail on them.
    frame.attrs["orphan_references"] = int((~reference["example_id"].isin(examples["example_id"])).sum())
    return frame


def clusters(frame: pd.DataFrame) -> tuple[pd.Series, str]:
    """Each example's resampling unit for the bootstrap intervals (alignx.evaluation.intervals), and its name.

    `user`: the user id (records of one user share a persona and a preference vector, so they are correlated).
    A benchmark released without user ids has one user per record (user_id == record_id): then `profile`, the
    preference its given profile states (the record's direction vector, parsed from `profile` on import; the same
    for ICA and PBA), when some records share one, else `record`."""
    users = frame["user_id"].astype(str)
    if len(frame) and (users != frame["record_id"].astype(str)).any():
        return users.rename("cluster"), "user"
    stated = frame[DIRECTION].map(lambda d: None if d is None else ",".join(f"{float(v):g}" for v in d))
    if len(frame) and stated.notna().all() and stated.nunique() < len(frame):
        return stated.rename("cluster"), "profile"
    return frame["record_id"].astype(str).rename("cluster"), "record"
def _with_vpl(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """`vpl_chosen` / `vpl_rejected`: VPL's rewards (stage `vpl`) of exactly these examples, or an error naming the
    file when it scored other examples (stale: re-run the stage)."""
    vpl = _read(path, ["example_id", "vpl_chosen", "vpl_rejected"])
    if len(vpl) != len(frame) or set(vpl["example_id"]) != set(frame["example_id"]):
        raise EvalInputError(f"{path}: VPL scored {len(vpl)} examples, not the {len(frame)} of this eval set "
                             "(run `dvc repro vpl`)")
    return frame.merge(vpl, on="example_id", how="left")


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



def with_vpl(files: dict[str, Path], aligner: str, name: str) -> dict[str, Path]:
    """`files` plus the VPL baseline's rewards of the set (stage `vpl`), which `load` reads when present."""
    return {**files, "vpl": vpl_scores_file(aligner, name)}


def eval_sets(aligner: str, splits: list[str], benchmarks: dict[str, str]) -> dict[str, tuple[dict, bool]]:
    """The eval sets to load: {name: (paths, is_benchmark)} for the eval splits and every listed benchmark."""
    if "test" not in splits:
        raise EvalInputError(f"params.yaml evaluate.splits: {splits} must include 'test' (the main result)")
    sets = {name: (paths(aligner, name), False) for name in splits}
    sets.update({name: (paths(aligner, name, benchmark=True), True) for name in benchmarks})
    return sets
