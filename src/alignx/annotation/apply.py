"""Profiles for unlabelled users: history items' directions filled in by the annotator before PBA infers its
profile (`alignx.space.infer_profile`, unchanged). Which items: params `directions.use`.

    labelled    records unchanged (the items' own labels; an item without one stays without)
    predicted   every item's direction predicted (labels ignored: measures the gap to labelled)
    missing     predicted only where an item has none (raw history, e.g. a benchmark's PAIR items)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alignx.annotation.features import history_items
from alignx.config import DIRECTION_USES
from alignx.contracts import ANNOTATOR_DIR, DIRECTION, PAIR, UGC

if TYPE_CHECKING:  # the network (torch) is imported where an annotator is loaded: `labelled` never needs it
    from alignx.annotation.model import Annotator

FIELDS = {"ugc": UGC, "pair": PAIR}


def fill_directions(records: Sequence[Mapping[str, Any]], annotator: Annotator | None, use: str) -> list[dict]:
    """Copies of `records` whose history items carry the directions `use` asks for (module docstring); the
    inputs are not modified. An item to predict with empty or whitespace-only text raises
    features.AnnotationError naming the record index, the field and the item index."""
    if use not in DIRECTION_USES:
        raise ValueError(f"directions.use must be one of {DIRECTION_USES}, got {use!r}")
    records = [dict(r) for r in records]
    if use == "labelled":
        return records
    items = history_items(records, unlabelled_only=use == "missing")
    if items.empty:
        return records
    if annotator is None:
        raise ValueError(f"directions.use={use!r}: {len(items)} history item(s) need a direction and no annotator is loaded")
    for record in {int(r) for r in items["record"]}:
        for field in FIELDS.values():
            if records[record].get(field) is not None:
                records[record][field] = [dict(item) for item in records[record][field]]
    for (r, kind, i), vector in zip(items[["record", "kind", "item"]].itertuples(index=False), annotator.predict(items)):
        records[r][FIELDS[kind]][i][DIRECTION] = vector
    return records


def fill_missing(records: Sequence[Mapping[str, Any]], annotator: Annotator | None) -> list[dict]:
    """What a served model does with the rows it is given (the registered PBA scorer, and any other place that
    prepares rows): items without a direction get the annotator's; the records unchanged (copied) without an
    annotator."""
    return fill_directions(records, annotator, "missing") if annotator is not None else [dict(r) for r in records]


def load_annotator(artifacts: Mapping[str, str] | None) -> Annotator | None:
    """The annotator a registered model carries as its `annotator` artifact (alignx.training.registry.
    extra_artifacts), or None when it carries none."""
    from alignx.annotation.model import Annotator

    return Annotator.load(artifacts["annotator"]) if artifacts and "annotator" in artifacts else None


def preparer(use: str, folder: Path | str = ANNOTATOR_DIR) -> Callable[[list[dict]], list[dict]] | None:
    """What format / eval_inputs pass each chunk of records through under `directions.use`: None for
    `labelled` (records untouched, the annotator not even loaded), else fill_directions with the annotator saved
    in `folder`."""
    if use == "labelled":
        return None
    from alignx.annotation.model import Annotator

    annotator = Annotator.load(folder)
    return lambda records: fill_directions(records, annotator, use)
