"""The annotator as a deliverable: its gate and its MLflow registry entry (`alignx-annotator`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import great_expectations.expectations as gxe
import numpy as np
import pandas as pd
import torch

from alignx.annotation.features import labels
from alignx.annotation.metrics import summary
from alignx.annotation.model import Annotator
from alignx.contracts import CANDIDATE
from alignx.pipeline import gates


def swapped(items: pd.DataFrame) -> pd.DataFrame:
    """PAIR items with chosen and rejected exchanged (UGC items unchanged)."""
    return items.assign(texts=[t[::-1] if k == "pair" else t for k, t in zip(items["kind"], items["texts"])])


def gate_annotator(folder: Path, val: pd.DataFrame, min_macro_f1: float) -> list[gates.GateResult]:
    """The saved annotator loads from `folder` (safetensors + JSON), its weights are finite, swapping a PAIR item's
    responses flips every predicted dimension, and its val macro-F1 is at least `min_macro_f1`."""
    row = {"loads": True, "error": "", "finite": False, "antisymmetric": False, "val_macro_f1": 0.0}
    try:
        annotator = Annotator.load(folder)
        row["finite"] = all(bool(torch.isfinite(t).all()) for t in annotator.net.state_dict().values())
        pairs = val[val["kind"] == "pair"]
        flipped = 2 - annotator.classes(swapped(pairs))
        row["antisymmetric"] = bool(np.array_equal(annotator.classes(pairs), flipped))
        labelled = val[val["direction"].notna()]
        if len(labelled):
            row["val_macro_f1"] = summary(labels(labelled), annotator.classes(labelled))["macro_f1"]["overall"]
    except Exception as exc:  # reported by the gate with the folder named, not as a bare traceback
        row.update(loads=False, error=f"{folder}: {type(exc).__name__}: {exc}")
    return [gates.check("annotator", pd.DataFrame([row]), [
        gxe.ExpectColumnValuesToBeInSet(column="loads", value_set=[True]),
        gates.all_true("finite"),
        gates.all_true("antisymmetric"),
        gxe.ExpectColumnValuesToBeBetween(column="val_macro_f1", min_value=min_macro_f1, max_value=1),
    ])]


def signature() -> Any:
    """What the served annotator takes and returns: one history item a row (a UGC item: `comment`; a PAIR item:
    `chosen` and `rejected`; `prompt` optional) -> `direction` (its values per dimension) and `profile` (its
    verbalized labels)."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Array, ColSpec, DataType, Schema

    inputs = Schema([ColSpec(DataType.string, col, required=False) for col in ("prompt", "comment", "chosen", "rejected")])
    outputs = Schema([ColSpec(Array(DataType.double), "direction"), ColSpec(DataType.string, "profile")])
    return ModelSignature(inputs=inputs, outputs=outputs)


def input_example() -> pd.DataFrame:
    """A UGC item and a PAIR item, as `predict` takes them."""
    return pd.DataFrame([
        {"prompt": "How do I start running?", "comment": "Keep it short and practical, please.", "chosen": None, "rejected": None},
        {"prompt": "Explain compound interest.", "comment": None, "chosen": "Interest earns interest: 100 at 10 % is 110, then 121.",
         "rejected": "It is a financial concept used by banks."},
    ])


def model_card(name: str, figures: dict[str, float]) -> str:
    """The annotator's model card: what it does and its figures (items trained on, val quality)."""
    rows = "\n".join(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in figures.items())
    return (f"# {name}\n\nThe direction annotator of stage `directions`: it reads one history item (a user's comment, "
            "or a pair with the response the user chose) and predicts the user's direction on every dimension of the "
            "preference space, which PBA's profiles are inferred from.\n\n| | |\n|---|---|\n" + rows + "\n")


def register(folder: Path, name: str, alias: str = CANDIDATE) -> str:
    """Log `folder` to the active MLflow run as the annotator pyfunc (alignx.annotation.served), with its signature
    and input example, register it as a new version of `name`, point `alias` at it; return the version."""
    import mlflow

    code = importlib.util.find_spec("alignx.annotation.served").origin
    info = mlflow.pyfunc.log_model(
        name="annotator", python_model=code, artifacts={"annotator": str(folder.resolve())},
        registered_model_name=name, pip_requirements=[f"torch=={torch.__version__.split('+')[0]}",
                                                      f"mlflow=={mlflow.__version__}"],
        signature=signature(), input_example=input_example(),
    )
    version = str(info.registered_model_version)
    mlflow.MlflowClient().set_registered_model_alias(name, alias, version)
    return version
