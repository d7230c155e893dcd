"""Stage `directions`: the direction annotator, trained on the history items of train-split records only (val
items choose the epoch), gated, saved to `models/annotator/` and registered as `alignx-annotator`
(alignx.annotation.stage)."""

from __future__ import annotations

import mlflow
from prefect import flow

from alignx.annotation import stage as directions
from alignx.annotation.registry import model_card, register
from alignx.contracts import ANNOTATOR_DIR, ANNOTATOR_NAME
from alignx.pipeline.stage import retried, stage
from alignx.pipeline.tracking import describe_version


@flow(name="directions", log_prints=True)
def directions_flow() -> str:
    """Train, gate, publish and register the annotator."""
    with stage("directions") as st:
        cfg = st.params
        train, val = directions.split_items("train"), directions.split_items("val")
        print(f"directions: {len(train)} train items, {len(val)} val items")
        result = st.publish(ANNOTATOR_DIR, lambda tmp: directions.write_annotator(tmp, train, val, cfg),
                            lambda tmp, _: directions.gate(tmp, val, cfg), log_artifact=False)
        version = retried(register, "register")(ANNOTATOR_DIR, ANNOTATOR_NAME)
        st.log_json(directions.val_document(result), "annotator_val.json")
        figures = directions.figures(result, len(train), len(val), version)
        card = model_card(ANNOTATOR_NAME, figures)
        mlflow.log_text(card, "model_card.md")
        describe_version(ANNOTATOR_NAME, version, card)
        st.report(figures, title=f"directions: {ANNOTATOR_NAME} v{version}")
    return str(ANNOTATOR_DIR)
