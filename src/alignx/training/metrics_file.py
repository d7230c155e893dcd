"""`metrics/train_<aligner>.json`: the end-of-run values of a training run that DVC tracks, and their gate."""

from __future__ import annotations

import json
from pathlib import Path

import great_expectations.expectations as gxe
import pandas as pd

from alignx.pipeline import gates

# The end-of-run values `metrics/train_<aligner>.json` keeps (`dvc exp show` compares experiments on them).
TRAIN_METRICS = ("val/accuracy", "val/loss", "steps", "first_step_loss", "loss", "rewards/accuracy",
                 "mean/tokens_per_second", "mean/mfu_fp32_peak", "mean/step_seconds")


def write_metrics(summary: dict[str, float], path: Path) -> None:
    """The kept end-of-run values of `summary`, as JSON at `path`."""
    kept = {k: round(float(summary[k]), 4) for k in TRAIN_METRICS if k in summary}
    path.write_text(json.dumps(kept, indent=2) + "\n")


def gate_metrics(path: Path, _written: object = None) -> gates.GateResult:
    """The run took steps, and its accuracies (val, when there is a val split; the last batch's) are fractions."""
    doc = json.loads(path.read_text())
    accuracies = [doc[k] for k in ("val/accuracy", "rewards/accuracy") if k in doc]
    frame = pd.DataFrame({"accuracy": accuracies or [0.0], "steps": doc.get("steps", 0)})
    return gates.check("train_metrics", frame, [
        gxe.ExpectColumnValuesToBeBetween(column="steps", min_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="accuracy", min_value=0, max_value=1),
    ])
