"""Stage `directions`: the direction annotator, trained on the history items of train-split records only (val
items choose the epoch), gated, saved to `models/annotator/` and registered as `alignx-annotator`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from prefect import flow

from alignx.annotation.features import history_items, unique_items
from alignx.annotation.registry import gate_annotator, register
from alignx.annotation.training import fit
from alignx.contracts import ANNOTATOR_DIR, ANNOTATOR_NAME, PAIRS_DIR
from alignx.inputs.examples import iter_records
from alignx.pipeline.stage import stage


def split_items(split: str) -> pd.DataFrame:
    """Each distinct history item of a split's records once (features.unique_items)."""
    records = [r for chunk in iter_records(PAIRS_DIR / f"{split}.parquet") for r in chunk]
    return unique_items(history_items(records))


@flow(name="directions", log_prints=True)
def directions_flow() -> str:
    """Train, gate, publish and register the annotator."""
    with stage("directions") as st:
        cfg = st.params
        torch.set_num_threads(cfg.threads)
        train, val = split_items("train"), split_items("val")
        print(f"directions: {len(train)} train items, {len(val)} val items")
        found = {}

        def write(tmp: Path) -> None:
            found["fit"] = result = fit(train, val, cfg)
            result.annotator.save(tmp)

        st.publish(ANNOTATOR_DIR, write, lambda tmp: gate_annotator(tmp, val, cfg.min_val_macro_f1), log_artifact=False)
        version = register(ANNOTATOR_DIR, ANNOTATOR_NAME)
        result = found["fit"]
        st.log_json({"val": result.val, "best_epoch": result.best_epoch, "curve": result.curve}, "annotator_val.json")
        figures = {"train_items": len(train), "val_items": len(val), "best_epoch": result.best_epoch,
                   "seconds": round(result.seconds, 1), "vocabulary": len(result.annotator.vocab),
                   "val_macro_f1": result.val.get("macro_f1", {}).get("overall", float("nan")),
                   "val_non_neutral_accuracy": result.val.get("non_neutral_accuracy") or float("nan"),
                   "registered_version": float(version)}
        st.report(figures, title=f"directions: {ANNOTATOR_NAME} v{version}")
    return str(ANNOTATOR_DIR)
