"""Stage `directions`: the direction annotator trained on the history items of train-split records only (val
items choose the epoch), saved, gated and registered as `alignx-annotator`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from alignx.annotation.features import history_items, unique_items
from alignx.annotation.registry import gate_annotator
from alignx.annotation.training import FitResult, fit
from alignx.config import DirectionsConfig
from alignx.contracts import PAIRS_DIR
from alignx.inputs.examples import iter_records
from alignx.pipeline import gates


def split_items(split: str, pairs_dir: Path = PAIRS_DIR) -> pd.DataFrame:
    """Each distinct history item of a split's records once (features.unique_items)."""
    records = [r for chunk in iter_records(pairs_dir / f"{split}.parquet") for r in chunk]
    return unique_items(history_items(records))


def write_annotator(tmp: Path, train: pd.DataFrame, val: pd.DataFrame, cfg: DirectionsConfig) -> FitResult:
    """Fit the annotator (cfg.threads torch threads when set) and save it into `tmp`; the fit's result."""
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    result = fit(train, val, cfg)
    result.annotator.save(tmp)
    return result


def gate(tmp: Path, val: pd.DataFrame, cfg: DirectionsConfig) -> list[gates.GateResult]:
    """The annotator gate (registry.gate_annotator) with the params' val macro-F1 floor."""
    return gate_annotator(tmp, val, cfg.min_val_macro_f1)


def figures(result: FitResult, n_train: int, n_val: int, version: str) -> dict[str, float]:
    """What the stage reports: item counts, the epoch kept, time, vocabulary, val quality, registered version."""
    return {"train_items": n_train, "val_items": n_val, "best_epoch": result.best_epoch,
            "seconds": round(result.seconds, 1), "vocabulary": len(result.annotator.vocab),
            "val_macro_f1": result.val.get("macro_f1", {}).get("overall", float("nan")),
            "val_non_neutral_accuracy": result.val.get("non_neutral_accuracy") or float("nan"),
            "registered_version": float(version)}


def val_document(result: FitResult) -> dict:
    """The val figures, the epoch kept and the per-epoch curve (logged as annotator_val.json)."""
    return {"val": result.val, "best_epoch": result.best_epoch, "curve": result.curve}
