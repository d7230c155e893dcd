"""The trained aligner in the MLflow model registry: a pyfunc that scores pairs (alignx.evaluation.reward_model),
registered as a new version with the `candidate` alias."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import tempfile
from pathlib import Path
from typing import Any

import torch

from alignx.config import FormatConfig, SpaceConfig, TrainConfig, as_dict
from alignx.contracts import ANNOTATOR_DIR, CANDIDATE
from alignx.pipeline.tracking import describe_version


def scoring_config(aligner: str, cfg: TrainConfig, fmt: FormatConfig, spc: SpaceConfig) -> dict[str, Any]:
    """What the registered model needs to render and score an input like the pipeline: the aligner, beta, the
    batch size, and the `format` and `space` sections (alignx.evaluation.reward_model.render_configs)."""
    return {"aligner": aligner, "beta": cfg.beta, "batch_size": cfg.micro_batch, "format": as_dict(fmt),
            "space": as_dict(spc)}


def extra_artifacts(aligner: str) -> dict[str, Path]:
    """More folders the registered model carries: PBA's the direction annotator of the `directions` stage (it
    fills unlabelled history items' directions, alignx.annotation.apply), when it has been trained."""
    return {"annotator": ANNOTATOR_DIR} if aligner == "pba" and ANNOTATOR_DIR.is_dir() else {}


def template_hash() -> str:
    """A short digest of the one input template (alignx.inputs.prompts): two versions with the same hash render
    their inputs alike (given the same `format` settings)."""
    source = Path(importlib.util.find_spec("alignx.inputs.prompts").origin).read_bytes()
    return hashlib.sha256(source).hexdigest()[:12]


def model_card(name: str, aligner: str, cfg: TrainConfig, base_model: str, data: dict[str, Any],
               figures: dict[str, float] | None = None) -> str:
    """The registered version's model card (markdown): what it is, the base model, the data (source and size),
    the DPO settings, the input template's hash, and its training figures (evaluation figures are added by
    alignx.evaluation.champion once stage evaluate has measured them)."""
    rows = {"aligner": aligner, "base model": base_model, **{f"data: {k}": v for k, v in data.items()},
            "beta": cfg.beta, "lr": cfg.lr, "steps": (figures or {}).get("steps", cfg.max_steps or "one epoch"),
            "global batch": cfg.global_batch, "LoRA rank": cfg.lora.rank or "off (every weight trains)",
            "template hash (alignx.inputs.prompts)": template_hash()}
    rows |= {k: f"{v:.4g}" for k, v in (figures or {}).items() if k.startswith("val/")}
    table = "\n".join(f"| {k} | {v} |" for k, v in rows.items())
    return (f"# {name}\n\nA {aligner.upper()} aligner (DPO-trained, paper arXiv 2503.15463): it scores a preference "
            "pair for one user from that user's history (`predict` on AlignX records) and writes a personalized "
            "response (`params={\"task\": \"generate\"}`).\n\n| | |\n|---|---|\n" + table + "\n")


def training_data(aligner: str) -> dict[str, Any]:
    """Where the aligner's training data came from (`pairs.source`, the import folder for `alignx`) and how many
    examples each split held (row counts of data/format/<aligner>/*.parquet, read from their footers)."""
    import pyarrow.parquet as pq

    from alignx.config import load_section
    from alignx.contracts import FORMAT_DIR

    pairs = load_section("pairs")
    data: dict[str, Any] = {"source": pairs.source + (f" ({pairs.import_dir})" if pairs.source == "alignx" else "")}
    for split in ("train", "val"):
        file = FORMAT_DIR / aligner / f"{split}.parquet"
        if file.exists():
            data[f"{split} examples"] = pq.ParquetFile(file).metadata.num_rows
    return data


def register(path: Path, name: str, base: Path, scoring: dict[str, Any], alias: str = CANDIDATE,
             extra_artifacts: dict[str, Path] | None = None, card: str = "") -> str:
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

    with tempfile.TemporaryDirectory(prefix="alignx-scoring-") as tmp:
        # An artifact, not model_config: MLflow would log model_config again as run params (`format/max_len`
        # beside the stage's own `format.max_len`).
        scoring_file = Path(tmp) / "scoring.json"
        scoring_file.write_text(json.dumps(scoring, indent=2))
        info = mlflow.pyfunc.log_model(
            name="model", python_model=code,
            artifacts={"policy": str(path.resolve()), "reference": str(base.resolve()), "scoring": str(scoring_file),
                       **{k: str(Path(v).resolve()) for k, v in (extra_artifacts or {}).items()}},
            registered_model_name=name, pip_requirements=requirements,
            signature=serving.signature(), input_example=(serving.input_example(), {"task": "score"}),
            metadata={"alignx.aligner": scoring["aligner"], "alignx.reference": str(base)},
        )
    version = str(info.registered_model_version)
    mlflow.MlflowClient().set_registered_model_alias(name, alias, version)
    if card:
        mlflow.log_text(card, "model_card.md")
        describe_version(name, version, card)
    return version
