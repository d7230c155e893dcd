"""Stage `space`: the 90-dimension preference space (alignx.space) and PBA's thresholds (params `space`, the one
home of the 0.6 / 0.4 every stage reads through alignx.config.SpaceConfig) as a versioned, gated document,
`data/space/preference_space.json`.

The labels and groups live in alignx.space (code); the thresholds in params.yaml. The document records both
for readers of the pipeline's outputs; stages read the same two sources directly.
"""

from __future__ import annotations

import json
from pathlib import Path

import great_expectations.expectations as gxe
import pandas as pd

from alignx import space
from alignx.contracts import SPACE_FILE
from alignx.pipeline import gates

OUT = SPACE_FILE


def write_space(path: Path, positive_threshold: float, negative_threshold: float) -> dict:
    """Write the space document with PBA's thresholds (params `space`) to `path`; return it."""
    doc = space.space_document(positive_threshold, negative_threshold)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def gate_space(path: Path, _written: object = None) -> list[gates.GateResult]:
    """90 unique dimensions, 5 groups of 7/21/12/7/43, non-empty distinct labels, thresholds either side of 0.5."""
    doc = json.loads(path.read_text())
    dims = pd.DataFrame(doc["dimensions"])
    for column in ("index", "group", "name", "positive", "negative"):
        if column not in dims:
            dims[column] = None  # reported as a failed expectation below rather than a KeyError
    return [_gate_dimensions(dims), _gate_groups(dims), _gate_thresholds(doc.get("thresholds", {}))]


def _gate_dimensions(dims: pd.DataFrame) -> gates.GateResult:
    dims = dims.assign(labels_differ=dims["positive"] != dims["negative"])
    return gates.check(
        "space_dimensions",
        dims,
        [
            gxe.ExpectTableRowCountToEqual(value=space.N_DIMS),
            gxe.ExpectColumnValuesToBeUnique(column="index"),
            gxe.ExpectColumnValuesToBeBetween(column="index", min_value=0, max_value=space.N_DIMS - 1),
            gxe.ExpectColumnValuesToBeIncreasing(column="index", strictly=True),
            gxe.ExpectColumnValuesToBeUnique(column="name"),
            gxe.ExpectColumnValuesToBeInSet(column="group", value_set=[g for g, _ in space.GROUPS]),
            gxe.ExpectColumnValuesToNotBeNull(column="positive"),
            gxe.ExpectColumnValuesToNotBeNull(column="negative"),
            gxe.ExpectColumnValueLengthsToBeBetween(column="positive", min_value=1),
            gxe.ExpectColumnValueLengthsToBeBetween(column="negative", min_value=1),
            gxe.ExpectColumnValuesToBeUnique(column="positive"),
            gxe.ExpectColumnValuesToBeUnique(column="negative"),
            gates.all_true("labels_differ"),
        ],
    )


def _gate_groups(dims: pd.DataFrame) -> gates.GateResult:
    groups = dims.groupby("group", sort=False).size().rename("observed").reset_index()
    groups = pd.DataFrame({"group": [g for g, _ in space.GROUPS], "expected": [n for _, n in space.GROUPS]}).merge(
        groups, on="group", how="left"
    ).fillna({"observed": 0})
    return gates.check(
        "space_groups",
        groups,
        [
            gxe.ExpectTableRowCountToEqual(value=len(space.GROUPS)),
            gxe.ExpectColumnPairValuesToBeEqual(column_A="expected", column_B="observed"),
        ],
    )


def _gate_thresholds(thresholds: dict) -> gates.GateResult:
    return gates.check(
        "space_thresholds",
        pd.DataFrame([thresholds]),
        [
            gxe.ExpectColumnValuesToBeBetween(column="positive", min_value=0.5, max_value=1, strict_min=True),
            gxe.ExpectColumnValuesToBeBetween(column="negative", min_value=0, max_value=0.5, strict_max=True),
        ],
    )
