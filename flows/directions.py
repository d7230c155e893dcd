"""Stage `directions`: the direction annotator, trained on the history items of train-split records only (val
items choose the epoch), gated, saved to `models/annotator/` and registered as `alignx-annotator`
(alignx.annotation.stage)."""

from __future__ import annotations

from prefect import flow

from alignx.annotation import stage as directions
from alignx.annotation.registry import register
from alignx.contracts import ANNOTATOR_DIR, ANNOTATOR_NAME
from alignx.pipeline.stage import stage


@flow(name="directions", log_prints=True)
def directions_flow() -> str:
    """Train, gate, publish and register the annotator."""
    with stage("directions") as st:
        cfg = st.params
        train, val = directions.split_items("train"), directions.split_items("val")
        print(f"directions: {len(train)} train items, {len(val)} val items")
        result = st.publish(ANNOTATOR_DIR, lambda tmp: directions.write_annotator(tmp, train, val, cfg),
                            lambda tmp, _: directions.gate(tmp, val, cfg), log_artifact=False)
        version = register(ANNOTATOR_DIR, ANNOTATOR_NAME)
        st.log_json(directions.val_document(result), "annotator_val.json")
        st.report(directions.figures(result, len(train), len(val), version),
                  title=f"directions: {ANNOTATOR_NAME} v{version}")
    return str(ANNOTATOR_DIR)
