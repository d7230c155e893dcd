"""The AlignX record schema (docs/architecture.md) as a pyarrow schema, fast table builders, and the vector check
every record and user gate applies."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from alignx import space
from alignx.contracts import DEMO, DIRECTION, MAX_ITEMS, PAIR, UGC

VECTOR = pa.list_(pa.float32())
UGC_ITEM = pa.struct([("prompt", pa.string()), ("comment", pa.string()), (DIRECTION, VECTOR)])
PAIR_ITEM = pa.struct(
    [("prompt", pa.string()), ("chosen", pa.string()), ("rejected", pa.string()), (DIRECTION, VECTOR)]
)
SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("user_id", pa.string()),
        ("split", pa.string()),
        ("prompt", pa.string()),
        ("chosen", pa.string()),
        ("rejected", pa.string()),
        (DIRECTION, VECTOR),
        (DEMO, pa.string()),
        (UGC, pa.list_(UGC_ITEM)),
        (PAIR, pa.list_(PAIR_ITEM)),
        ("profile", pa.string()),
        ("ground_truth_persona", pa.string()),
    ]
)
COLUMNS = tuple(SCHEMA.names)
_VALUES = pa.array(space.VALUES, pa.float64())


def vectors(flat: np.ndarray) -> pa.ListArray:
    """A list<float32> array of 90-value vectors from a (n, 90) array."""
    values = np.ascontiguousarray(flat, dtype=np.float32).reshape(-1)
    offsets = np.arange(0, values.size + 1, space.N_DIMS, dtype=np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values), type=VECTOR)


def items(offsets: np.ndarray, fields: dict[str, pa.Array], item_type: pa.StructType) -> pa.ListArray:
    """A list<struct> column: row i holds the struct rows offsets[i]:offsets[i+1] of `fields`."""
    structs = pa.StructArray.from_arrays([fields[f.name] for f in item_type], fields=list(item_type))
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), structs, type=pa.list_(item_type))


def table(
    record_id: Sequence[str],
    user_id: Sequence[str],
    split: Sequence[str],
    prompt: Sequence[str],
    chosen: Sequence[str],
    rejected: Sequence[str],
    direction: pa.Array,
    demo: Sequence[str],
    ugc: pa.Array,
    pair: pa.Array,
) -> pa.Table:
    """A table in SCHEMA from column values (synthetic records: no profile, no ground-truth persona)."""
    n = len(record_id)
    empty = pa.array([""] * n, pa.string())
    columns = [record_id, user_id, split, prompt, chosen, rejected, direction, demo, ugc, pair, empty, empty]
    arrays = [c if isinstance(c, pa.Array) else pa.array(c, f.type) for c, f in zip(columns, SCHEMA)]
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def vectors_ok(values: pa.Array, allow_null: bool) -> np.ndarray:
    """Per row: a list of exactly 90 values in {0, 0.5, 1} (or null, when allowed)."""
    n = len(values)
    lengths = pc.list_value_length(values)
    is_null = pc.is_null(values).to_numpy(zero_copy_only=False)
    flat = pc.cast(pc.list_flatten(values), pa.float64())
    bad = ~pc.fill_null(pc.is_in(flat, value_set=_VALUES), False).to_numpy(zero_copy_only=False)
    parents = pc.list_parent_indices(values).to_numpy()
    bad_rows = np.bincount(parents[bad], minlength=n) > 0 if n else np.zeros(0, bool)
    ok = (pc.fill_null(lengths, -1).to_numpy(zero_copy_only=False) == space.N_DIMS) & ~bad_rows
    return np.where(is_null, allow_null, ok)
