"""Stage `base`: the reference / starting model and its tokenizer in `models/base/` (alignx.modeling.base).

`tiny`: a tokenizer trained on the train split, a small Llama, and an LM warm-up on rendered training inputs.
`smollm2` / `hf:<path>`: an existing model, saved as a plain folder.
"""

from __future__ import annotations

import itertools
import tempfile

import mlflow
import numpy as np
from prefect import flow

from alignx.contracts import BASE_DIR
from alignx.inputs.examples import FormatSpec, iter_records
from alignx.modeling import base
from alignx.modeling.model import load_base_spec, n_params
from alignx.modeling.tokenizer import corpus_texts
from alignx.pipeline.stage import stage

MAX_LOGGED_MB = 64  # larger weights (smollm2, hf:) stay out of the MLflow artifact store; the tokenizer is logged


@flow(name="base", log_prints=True)
def base_flow() -> str:
    """Build or load the base model, gate it, and publish `models/base/`."""
    with stage("base", reads=("format", "space")) as st:
        p = st.params
        if p.model == "tiny":
            fmt = FormatSpec.from_config(st.section("format"), st.section("space"))
            model, tokenizer, losses = base.build_tiny_base(p, fmt)
        else:
            model, tokenizer = load_base_spec(p.model, p.dtype)
            losses = []
        texts = [t for t in itertools.islice(corpus_texts(next(iter_records(base.TRAIN, 64), [])), 64) if t]
        size_mb = sum(t.numel() * t.element_size() for t in model.state_dict().values()) / 2**20
        st.publish(BASE_DIR, lambda tmp: base.write_base(tmp, model, tokenizer), lambda tmp: base.gate_base(tmp, texts, losses),
                   log_artifact=size_mb <= MAX_LOGGED_MB)
        if size_mb > MAX_LOGGED_MB:
            with tempfile.TemporaryDirectory() as tmp:
                tokenizer.save_pretrained(tmp)
                mlflow.log_artifacts(tmp, artifact_path="tokenizer")
        if losses:
            base.log_warmup(losses)
        k = max(1, len(losses) // 10)
        st.report({
            "parameters": n_params(model),
            "size_mb": size_mb,
            "vocab_size": len(tokenizer),
            "warmup_steps": len(losses),
            "warmup_loss_first": float(np.mean(losses[:k])) if losses else None,
            "warmup_loss_last": float(np.mean(losses[-k:])) if losses else None,
        })
    return str(BASE_DIR)
