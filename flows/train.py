"""Stage `train@{ica,pba}`: DPO-train one aligner with DeepSpeed, export it, gate it, register it."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor
from prefect import flow

from alignx.contracts import (ALIGNERS, ANNOTATOR_DIR, BASE_DIR, FORMAT_DIR, REFERENCE_DIR, model_dir, registered_name,
                              train_metrics_file)
from alignx.inputs.examples import FormatSpec
from alignx.pipeline.stage import stage
from alignx.training import export
from alignx.training.launch import run_training
from alignx.training.trainer import TrainPaths


def paths_for(variant: str, export_dir: Path) -> TrainPaths:
    """The aligner's inputs (docs/architecture.md contracts); the held-out split is used when both of its files
    exist."""
    fmt, ref = FORMAT_DIR / variant, REFERENCE_DIR / variant
    has_val = (fmt / "val.parquet").exists() and (ref / "val.parquet").exists()
    return TrainPaths(
        train_examples=str(fmt / "train.parquet"), train_reference=str(ref / "train.parquet"), base=str(BASE_DIR),
        export=str(export_dir), checkpoints=str(Path("checkpoints/train") / variant),
        val_examples=str(fmt / "val.parquet") if has_val else "", val_reference=str(ref / "val.parquet") if has_val else "",
    )


def scoring_config(st, cfg, variant: str) -> dict:
    """What the registered model needs to render and score an input like the pipeline (alignx.evaluation.reward_model)."""
    spec = FormatSpec.from_config(st.section("format"), st.section("space"))
    fmt = {**dataclasses.asdict(spec), "proportions": dict(spec.proportions)}
    return {"aligner": variant, "beta": cfg.beta, "batch_size": cfg.micro_batch, "format": fmt}


def annotator_artifact(variant: str) -> dict:
    """PBA's registered model carries the direction annotator (it fills unlabelled history items' directions)."""
    return {"annotator": ANNOTATOR_DIR} if variant == "pba" and ANNOTATOR_DIR.is_dir() else {}


@flow(name="train", log_prints=True)
def train_flow(variant: str) -> str:
    """Train aligner `variant` (ica / pba) into `models/<variant>/` and register it as `alignx-<variant>`."""
    if variant not in ALIGNERS:
        raise ValueError(f"train: unknown aligner {variant!r} (expected one of {ALIGNERS})")
    out = model_dir(variant)
    with stage(f"train@{variant}", reads=("format", "space")) as st:
        cfg = st.params.for_aligner(variant)  # train.aligners.<variant> written over the section
        # CPU, memory and disk of the training run, sampled beside the per-step metrics (the stage's run is
        # opened with log_system_metrics=False by alignx.pipeline.tracking, so the monitor is started here).
        monitor = SystemMetricsMonitor(st.run.info.run_id, sampling_interval=5, samples_before_logging=1)
        monitor.start()
        summary: dict[str, float] = {}
        try:
            def write(tmp: Path) -> None:
                summary.update(run_training(cfg, paths_for(variant, tmp), st.run.info.run_id))

            st.publish(out, write, gate=lambda path: export.gate_model(path, BASE_DIR), log_artifact=False)
            version = export.register(out, registered_name(variant), BASE_DIR, scoring_config(st, cfg, variant),
                                      extra_artifacts=annotator_artifact(variant))
        finally:
            monitor.finish()
        # The checkpoints only serve a resume of this run; the exported model is the result.
        shutil.rmtree(paths_for(variant, out).checkpoints, ignore_errors=True)
        # `final/` keeps these end-of-run values out of the per-step series of the same names.
        final = {f"final/{k}": v for k, v in summary.items() if not k.startswith("time/")}
        st.publish(train_metrics_file(variant), lambda tmp: export.write_metrics(summary, tmp), export.gate_metrics)
        st.report({**final, "registered_version": float(version)},
                  title=f"train@{variant}: {registered_name(variant)} v{version} (alias {export.CANDIDATE})")
    return str(out)
