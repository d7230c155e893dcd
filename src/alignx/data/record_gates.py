"""GX gates for AlignX records (docs/architecture.md), importable by every stage that reads them.

    result = gate_records("pairs_train", table)          # row-level: schema, vectors, texts, list sizes, ids
    st.check(result)

Row checks are computed vectorised with pyarrow into boolean columns and validated with GX (so failures
list the offending row indices); dataset-level checks (users in one split, coverage, balance, shortcuts)
take small summary frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import great_expectations.expectations as gxe
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from alignx import space
from alignx.pipeline import gates
from alignx.contracts import DIRECTION, MAX_ITEMS, PAIR, UGC
from alignx.world.records import COLUMNS, SCHEMA, vectors_ok

CHECKS = ("prompt_ok", "chosen_ok", "rejected_ok", "chosen_ne_rejected", "direction_ok", "ugc_ok", "pair_ok",
          "novel_dims_neutral")


def _column(table: pa.Table, name: str) -> pa.Array:
    return table.column(name).combine_chunks() if table.num_rows else pa.array([], SCHEMA.field(name).type)


def _texts_ok(values: pa.Array) -> np.ndarray:
    """Non-null and not blank."""
    return pc.fill_null(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(values)), 0), False).to_numpy(
        zero_copy_only=False
    )


def _items_ok(values: pa.Array, text_fields: Sequence[str], allow_null: bool) -> np.ndarray:
    """Per row: at most 4 items, each with non-empty texts and a valid (or allowed-null) direction."""
    n = len(values)
    lengths = pc.fill_null(pc.list_value_length(values), 0).to_numpy(zero_copy_only=False)
    flat = pc.list_flatten(values)
    ok_item = vectors_ok(flat.field(DIRECTION), allow_null)
    for name in text_fields:
        ok_item &= _texts_ok(flat.field(name))
    parents = pc.list_parent_indices(values).to_numpy()
    bad_rows = np.bincount(parents[~ok_item], minlength=n) > 0 if n else np.zeros(0, bool)
    return (lengths <= MAX_ITEMS) & ~bad_rows


def _on_dims(values: pa.Array, dims: Sequence[int]) -> np.ndarray:
    """Per list entry of 90-vectors `values`: non-neutral on any of `dims` (null and malformed vectors: False)."""
    ok = vectors_ok(values, allow_null=True) & ~pc.is_null(values).to_numpy(zero_copy_only=False)
    hit = np.zeros(len(values), dtype=bool)
    if ok.any() and dims:
        flat = pc.list_flatten(values.filter(pa.array(ok))).to_numpy(zero_copy_only=False)
        hit[ok] = (flat.reshape(-1, space.N_DIMS)[:, list(dims)] != space.NEUTRAL).any(axis=1)
    return hit


def novel_labels(table: pa.Table, dims: Sequence[int]) -> np.ndarray:
    """Per record: its direction or any UGC / PAIR item's direction is non-neutral on a novel dimension `dims`."""
    hit = _on_dims(_column(table, DIRECTION), dims)
    for field in (UGC, PAIR):
        items = _column(table, field)
        on = _on_dims(pc.list_flatten(items).field(DIRECTION), dims)
        parents = pc.list_parent_indices(items).to_numpy()
        hit |= np.bincount(parents[on], minlength=table.num_rows) > 0 if table.num_rows else hit
    return hit


def record_checks(table: pa.Table, allow_null_direction: bool = False, novel_dims: Sequence[int] = ()) -> pd.DataFrame:
    """The computed check columns of a records table (one row per record), with its ids. `novel_dims_neutral`:
    outside the novel split, no record (target or history item) is non-neutral on a novel dimension."""
    split = _column(table, "split").to_numpy(zero_copy_only=False)
    chosen, rejected = _column(table, "chosen"), _column(table, "rejected")
    same = pc.fill_null(pc.equal(chosen, rejected), True).to_numpy(zero_copy_only=False)
    return pd.DataFrame(
        {
            "record_id": _column(table, "record_id").to_numpy(zero_copy_only=False),
            "user_id": _column(table, "user_id").to_numpy(zero_copy_only=False),
            "split": split,
            "prompt_ok": _texts_ok(_column(table, "prompt")),
            "chosen_ok": _texts_ok(chosen),
            "rejected_ok": _texts_ok(rejected),
            "chosen_ne_rejected": ~same,
            "direction_ok": vectors_ok(_column(table, DIRECTION), allow_null_direction),
            # Benchmarks ship PAIR items without directions; UGC items always carry one.
            "ugc_ok": _items_ok(_column(table, UGC), ("prompt", "comment"), allow_null=False),
            "pair_ok": _items_ok(_column(table, PAIR), ("prompt", "chosen", "rejected"), allow_null_direction),
            "novel_dims_neutral": (split == "novel") | ~novel_labels(table, novel_dims),
        }
    )


def as_table(records: pa.Table | pd.DataFrame) -> pa.Table:
    """An arrow table of `records`; missing columns become nulls so the schema expectation reports them."""
    table = records if isinstance(records, pa.Table) else pa.Table.from_pandas(records, preserve_index=False)
    for field in SCHEMA:
        if field.name not in table.column_names:
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
    return table


def gate_records(
    name: str, records: pa.Table | pd.DataFrame, splits: Sequence[str] | None = None, allow_null_direction: bool = False,
    novel_dims: Sequence[int] = (),
) -> gates.GateResult:
    """Row-level gate of AlignX records: schema, ids, texts, chosen != rejected, vectors, UGC/PAIR <= 4, and no
    novel-dimension label outside the novel split."""
    present = list(records.column_names if isinstance(records, pa.Table) else records.columns)
    frame = record_checks(as_table(records), allow_null_direction, novel_dims)
    # One row per expected column, so a missing one is listed by name among the unexpected values.
    schema = pd.DataFrame({"column": list(COLUMNS)})
    expectations = [
        gxe.ExpectColumnValuesToNotBeNull(column="record_id"),
        gxe.ExpectColumnValuesToBeUnique(column="record_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="user_id"),
    ]
    if splits is not None:
        expectations.append(gxe.ExpectColumnValuesToBeInSet(column="split", value_set=list(splits)))
    expectations += [gates.all_true(c) for c in CHECKS]
    schema_result = gates.check(
        f"{name}_schema", schema, [gxe.ExpectColumnValuesToBeInSet(column="column", value_set=present)]
    )
    rows_result = gates.check(name, frame, expectations)
    return _merge(name, [schema_result, rows_result])


def _merge(name: str, results: Sequence[gates.GateResult]) -> gates.GateResult:
    """Several results as one (failures concatenated, raw results kept side by side)."""
    return gates.GateResult(
        name=name,
        success=all(r.success for r in results),
        evaluated=sum(r.evaluated for r in results),
        failures=[f for r in results for f in r.failures],
        raw={r.name: r.raw for r in results},
    )


def merge_chunks(name: str, results: Sequence[gates.GateResult]) -> gates.GateResult:
    """The gate results of many chunks as one result (failures prefixed with their chunk)."""
    failures = []
    for i, result in enumerate(results):
        for f in result.failures:
            failures.append(gates.Failure(f"chunk {i}: {f.expectation}", f.column, f.unexpected_count, f.examples, f.rows))
    raw = {"chunks": len(results), "failed": [r.raw for r in results if not r.success][:5]}
    return gates.GateResult(name, all(r.success for r in results), sum(r.evaluated for r in results), failures, raw)


def gate_users_in_one_split(name: str, user_splits: pd.DataFrame) -> gates.GateResult:
    """Distinct (user_id, split) pairs: each user id appears once, i.e. in exactly one split."""
    frame = user_splits.drop_duplicates().reset_index(drop=True)
    return gates.check(name, frame, [gxe.ExpectColumnValuesToBeUnique(column="user_id")])


def gate_unique(name: str, column: str, values: np.ndarray) -> gates.GateResult:
    """All values unique (record ids over every split)."""
    return gates.check(name, pd.DataFrame({column: values}), [gxe.ExpectColumnValuesToBeUnique(column=column)])


def gate_coverage(name: str, coverage: pd.DataFrame, novel_dims: Sequence[int] = ()) -> gates.GateResult:
    """Per dimension: every non-novel one is non-neutral in some train record; novel dimensions are neutral for
    every train user (and, by the record gate, in every train record).

    `coverage` has one row per dimension (`dim`) with `train_records_nonneutral` and `train_users_on_novel` (the
    number of train users non-neutral on the dimension if it is a novel one, else 0).
    """
    frame = coverage.assign(required=~coverage["dim"].isin(list(novel_dims)))
    frame["covered_if_required"] = ~frame["required"] | (frame["train_records_nonneutral"] > 0)
    result = gates.check(
        name,
        frame,
        [
            gxe.ExpectTableRowCountToEqual(value=space.N_DIMS),
            gates.all_true("covered_if_required"),
            gxe.ExpectColumnValuesToBeBetween(column="train_users_on_novel", min_value=0, max_value=0),
        ],
    )
    uncovered = [int(d) for d in frame.loc[~frame["covered_if_required"], "dim"]]
    if uncovered:
        result.hint = uncovered_hint(uncovered)
    return result


def uncovered_hint(dims: Sequence[int], shown: int = 12) -> str:
    """The dimensions no train record contrasts, named, and the param that turns the coverage gate off."""
    names = [f"{d} {space.DIMENSIONS[d].name}" for d in dims[:shown]]
    more = f" and {len(dims) - shown} more" if len(dims) > shown else ""
    return (f"{len(dims)} of {space.N_DIMS} dimensions have no non-neutral train record: {', '.join(names)}{more}. "
            "A partial import (some of the released files) covers only part of the space: set `pairs.coverage: "
            "false` in params.yaml (or `dvc exp run -S pairs.coverage=false`) to accept that.")


def gate_balance(name: str, metrics: dict[str, float], label_balance: tuple[float, float], max_shortcut: float) -> gates.GateResult:
    """Label balance within bounds; no shortcut (longer / shorter / first wins, the tone reader given the pair's
    own direction or the user's vector) beyond 0.5 +- max_shortcut."""
    frame = pd.DataFrame([metrics])
    lo, hi = 0.5 - max_shortcut, 0.5 + max_shortcut
    return gates.check(
        name,
        frame,
        [
            gxe.ExpectColumnValuesToBeBetween(column="label_balance", min_value=label_balance[0], max_value=label_balance[1]),
            gxe.ExpectColumnValuesToBeBetween(column="first_wins", min_value=lo, max_value=hi),
            # Ties in length count for neither, so "longer" and "shorter" are bounded separately.
            gxe.ExpectColumnValuesToBeBetween(column="longer_wins", min_value=0, max_value=hi),
            gxe.ExpectColumnValuesToBeBetween(column="shorter_wins", min_value=0, max_value=hi),
            gxe.ExpectColumnValuesToBeBetween(column="tone_oracle", min_value=0, max_value=hi),
            gxe.ExpectColumnValuesToBeBetween(column="tone_user", min_value=0, max_value=hi),
        ],
    )
