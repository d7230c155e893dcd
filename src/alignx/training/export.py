"""The trained aligner as a deliverable: a gate on the exported folder and its MLflow registry entry."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import great_expectations.expectations as gxe
import pandas as pd
import torch

from alignx.pipeline import gates

from alignx.contracts import CANDIDATE


def gate_model(path: Path, base: Path) -> list[gates.GateResult]:
    """The folder loads as a plain transformers causal LM with its tokenizer (no DeepSpeed), every weight is
    finite, and model and tokenizer vocabularies equal the base model's."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    row = {"loads": True, "error": "", "vocab": -1, "tokenizer_vocab": -1}
    tensors = pd.DataFrame({"tensor": pd.Series(dtype=str), "finite": pd.Series(dtype=bool)})
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(path)
        row["vocab"], row["tokenizer_vocab"] = model.config.vocab_size, len(tokenizer)
        tensors = pd.DataFrame(
            [{"tensor": name, "finite": bool(torch.isfinite(t).all())} for name, t in model.state_dict().items()]
        )
    except Exception as exc:  # reported by the gate with the folder named, not as a bare traceback
        row.update(loads=False, error=f"{type(exc).__name__}: {exc}")
    base_vocab = AutoConfig.from_pretrained(base).vocab_size
    base_tokenizer_vocab = len(AutoTokenizer.from_pretrained(base))
    summary = pd.DataFrame([row])
    return [
        gates.check("model_loads", summary, [
            gxe.ExpectColumnValuesToBeInSet(column="loads", value_set=[True]),
            gxe.ExpectColumnValuesToBeInSet(column="vocab", value_set=[base_vocab]),
            gxe.ExpectColumnValuesToBeInSet(column="tokenizer_vocab", value_set=[base_tokenizer_vocab]),
        ]),
        gates.check("model_weights_finite", tensors, [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            gates.all_true("finite"),
        ]),
    ]


def register(path: Path, name: str, base: Path, scoring: dict[str, Any], alias: str = CANDIDATE) -> str:
    """Log the exported folder to the active MLflow run as a pyfunc that scores pairs (alignx.evaluation.
    reward_model: implicit rewards against `base`, the reference, both carried as artifacts; `scoring` holds the
    aligner, beta and the format settings that render its inputs), register it as a new version of `name`
    and point `alias` at it; return the version. `mlflow.pyfunc.load_model("models:/<name>@<alias>")` then
    scores AlignX records; the folder under artifacts/policy is a plain transformers model."""
    import mlflow

    # Logged from its file ("models from code"), not pickled; found without importing it (dvc.yaml lists the
    # file among train's deps: it is what the registered version runs).
    code = importlib.util.find_spec("alignx.evaluation.reward_model").origin
    requirements = [f"torch=={torch.__version__.split('+')[0]}", f"transformers=={__import__('transformers').__version__}",
                    f"mlflow=={mlflow.__version__}"]
    from alignx.generation import serving  # the served rows' schema: both tasks' params (score, generate)

    info = mlflow.pyfunc.log_model(
        name="model", python_model=code, artifacts={"policy": str(path.resolve()), "reference": str(base.resolve())},
        model_config=scoring, registered_model_name=name, pip_requirements=requirements,
        signature=serving.signature(), input_example=(serving.input_example(), {"task": "score"}),
        metadata={"alignx.aligner": scoring["aligner"], "alignx.reference": str(base)},
    )
    version = str(info.registered_model_version)
    mlflow.MlflowClient().set_registered_model_alias(name, alias, version)
    return version


# The end-of-run values `metrics/train_<aligner>.json` keeps (`dvc exp show` compares experiments on them).
TRAIN_METRICS = ("val/accuracy", "val/loss", "steps", "first_step_loss", "loss", "rewards/accuracy",
                 "mean/tokens_per_second", "mean/mfu_fp32_peak", "mean/step_seconds")


def write_metrics(summary: dict[str, float], path: Path) -> None:
    """The kept end-of-run values of `summary`, as JSON at `path`."""
    kept = {k: round(float(summary[k]), 4) for k in TRAIN_METRICS if k in summary}
    path.write_text(json.dumps(kept, indent=2) + "\n")


def gate_metrics(path: Path) -> gates.GateResult:
    """The run took steps, and its accuracies (val, when there is a val split; the last batch's) are fractions."""
    doc = json.loads(path.read_text())
    accuracies = [doc[k] for k in ("val/accuracy", "rewards/accuracy") if k in doc]
    frame = pd.DataFrame({"accuracy": accuracies or [0.0], "steps": doc.get("steps", 0)})
    return gates.check("train_metrics", frame, [
        gxe.ExpectColumnValuesToBeBetween(column="steps", min_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="accuracy", min_value=0, max_value=1),
    ])
