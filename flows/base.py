"""Stage `base`: the reference / starting model and its tokenizer in `models/base/` (alignx.modeling.base).

`tiny`: a tokenizer trained on the train split, a small Llama, and an LM warm-up on rendered training inputs.
`smollm2` / `hf:<path>`: an existing model, saved as a plain folder.
"""

from __future__ import annotations

import tempfile

import mlflow
from prefect import flow

from alignx.contracts import BASE_DIR, BASE_METRICS
from alignx.modeling import base
from alignx.pipeline.stage import stage


@flow(name="base", log_prints=True)
def base_flow() -> str:
    """Build or load the base model, gate it, and publish `models/base/`."""
    with stage("base", reads=("format", "space")) as st:
        model, tokenizer, losses = base.build_or_load(st.params, st.section("format"), st.section("space"))
        texts, size_mb = base.gate_texts(), base.size_mb(model)
        read = base.retrieval(model, tokenizer, st.params, st.section("format"), st.section("space"))
        st.publish(BASE_DIR, lambda tmp: base.write_base(tmp, model, tokenizer),
                   lambda tmp, _: base.gate_base(tmp, texts, losses, read, st.params),
                   log_artifact=size_mb <= base.MAX_LOGGED_MB)
        if size_mb > base.MAX_LOGGED_MB:
            with tempfile.TemporaryDirectory() as tmp:
                tokenizer.save_pretrained(tmp)
                mlflow.log_artifacts(tmp, artifact_path="tokenizer")
        if losses:
            base.log_warmup(losses)
        figures = base.base_figures(model, tokenizer, losses, size_mb) | read
        st.publish(BASE_METRICS, lambda tmp: base.write_metrics(tmp, figures), base.gate_metrics)
        st.report(figures)
    return str(BASE_DIR)
