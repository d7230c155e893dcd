"""The AlignX record schema (docs/architecture.md) as a pyarrow schema, and fast table builders."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

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
