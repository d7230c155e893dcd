"""The trained aligner in the MLflow model registry: a pyfunc that scores pairs (alignx.evaluation.reward_model),
registered as a new version with the `candidate` alias."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import torch

from alignx.config import FormatConfig, SpaceConfig, TrainConfig, as_dict
from alignx.contracts import ANNOTATOR_DIR, CANDIDATE


def scoring_config(aligner: str, cfg: TrainConfig, fmt: FormatConfig, spc: SpaceConfig) -> dict[str, Any]:
    """What the registered model needs to render and score an input like the pipeline: the aligner, beta, the
    batch size, and the `format` and `space` sections (alignx.evaluation.reward_model.render_configs)."""
    return {"aligner": aligner, "beta": cfg.beta, "batch_size": cfg.micro_batch, "format": as_dict(fmt),
            "space": as_dict(spc)}


def extra_artifacts(aligner: str) -> dict[str, Path]:
    """More folders the registered model carries: PBA's the direction annotator of the `directions` stage (it
    fills unlabelled history items' directions, alignx.annotation.apply), when it has been trained."""
    return {"annotator": ANNOTATOR_DIR} if aligner == "pba" and ANNOTATOR_DIR.is_dir() else {}


def register(path: Path, name: str, base: Path, scoring: dict[str, Any], alias: str = CANDIDATE,
             extra_artifacts: dict[str, Path] | None = None) -> str:
    """Log the exported folder to the active MLflow run as a pyfunc that scores pairs (alignx.evaluation.
    reward_model: implicit rewards against `base`, the reference, both carried as artifacts; `scoring` holds the
    aligner, beta and the format settings that render its inputs), register it as a new version of `name`
    and point `alias` at it; return the version. `mlflow.pyfunc.load_model("models:/<name>@<alias>")` then
    scores AlignX records; the folder under artifacts/policy is a plain transformers model. `extra_artifacts`:
    more folders the pyfunc loads (name -> folder; PBA: `annotator`)."""
    import mlflow

    # Logged from its file ("models from code"), not pickled; found without importing it (dvc.yaml lists the
    # file among train's deps: it is what the registered version runs).
    code = importlib.util.find_spec("alignx.evaluation.reward_model").origin
    requirements = [f"torch=={torch.__version__.split('+')[0]}", f"transformers=={__import__('transformers').__version__}",
                    f"mlflow=={mlflow.__version__}"]
    from alignx.generation import serving  # the served rows' schema: both tasks' params (score, generate)

    info = mlflow.pyfunc.log_model(
        name="model", python_model=code, artifacts={"policy": str(path.resolve()), "reference": str(base.resolve()),
                                          **{k: str(Path(v).resolve()) for k, v in (extra_artifacts or {}).items()}},
        model_config=scoring, registered_model_name=name, pip_requirements=requirements,
        signature=serving.signature(), input_example=(serving.input_example(), {"task": "score"}),
        metadata={"alignx.aligner": scoring["aligner"], "alignx.reference": str(base)},
    )
    version = str(info.registered_model_version)
    mlflow.MlflowClient().set_registered_model_alias(name, alias, version)
    return version
