"""Stage `format`: tokenized ICA and PBA training examples, `data/format/{ica,pba}/{train,val}.parquet`
(alignx.inputs.format).

Test, novel and benchmark examples are formatted by `eval_inputs`, with the same code and settings, so that
changing an eval set never re-runs training.
"""

from __future__ import annotations

from prefect import flow

from alignx.contracts import BASE_DIR, FORMAT_DIR, PAIRS_DIR, TRAIN_SPLITS
from alignx.inputs import format as formatting
from alignx.pipeline.stage import stage


@flow(name="format", log_prints=True)
def format_flow() -> str:
    """Format, gate and publish `data/format/` (both aligners, train and val)."""
    with stage("format", reads=("space",)) as st:
        fmt, spc = st.params, st.section("space")
        tokenizer = formatting.base_tokenizer(BASE_DIR, fmt.max_len)
        sources = {s: PAIRS_DIR / f"{s}.parquet" for s in TRAIN_SPLITS}
        frames = st.publish(
            FORMAT_DIR,
            lambda tmp: formatting.format_all(tmp, sources, tokenizer, fmt, spc),
            lambda tmp, frames: formatting.format_gates(frames, fmt.max_len, "format"),
            log_artifact=False,
        )
        st.report(formatting.format_figures(frames))
    return str(FORMAT_DIR)
