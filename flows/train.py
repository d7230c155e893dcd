"""Stage `train@{ica,pba}`: DPO-train one aligner with DeepSpeed (alignx.training), export it, gate it, register it."""

from __future__ import annotations

import shutil

from prefect import flow

from alignx.config import load_section
from alignx.contracts import ALIGNERS, BASE_DIR, model_dir, registered_name, train_metrics_file
from alignx.pipeline.stage import retried, stage
from alignx.training import metrics_file, model_gate, registry
from alignx.training.launch import run_training, train_paths


@flow(name="train", log_prints=True)
def train_flow(variant: str) -> str:
    """Train aligner `variant` (ica / pba) into `models/<variant>/` and register it as `alignx-<variant>`."""
    if variant not in ALIGNERS:
        raise ValueError(f"train: unknown aligner {variant!r} (expected one of {ALIGNERS})")
    out = model_dir(variant)
    with stage(f"train@{variant}", reads=("format", "space")) as st:
        cfg = st.params.for_aligner(variant)  # train.aligners.<variant> written over the section
        # (CPU, memory and disk are sampled beside the per-step metrics by every stage's run: tracking.stage_run.)
        summary = st.publish(out, lambda tmp: run_training(cfg, train_paths(variant, tmp), st.run.info.run_id),
                             lambda path, _: model_gate.gate_model(path, BASE_DIR), log_artifact=False)
        scoring = registry.scoring_config(variant, cfg, st.section("format"), st.section("space"))
        card = registry.model_card(registered_name(variant), variant, cfg, load_section("base").model,
                                   registry.training_data(variant), summary)
        version = retried(registry.register, "register")(out, registered_name(variant), BASE_DIR, scoring,
                                                         extra_artifacts=registry.extra_artifacts(variant), card=card)
        # The checkpoints only serve a resume of this run; the exported model is the result.
        shutil.rmtree(train_paths(variant, out).checkpoints, ignore_errors=True)
        # `final/` keeps these end-of-run values out of the per-step series of the same names.
        final = {f"final/{k}": v for k, v in summary.items() if not k.startswith("time/")}
        st.publish(train_metrics_file(variant), lambda tmp: metrics_file.write_metrics(summary, tmp),
                   metrics_file.gate_metrics)
        st.report({**final, "registered_version": float(version)},
                  title=f"train@{variant}: {registered_name(variant)} v{version} (alias {registry.CANDIDATE})")
    return str(out)
