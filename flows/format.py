"""Stage `format`: tokenized ICA and PBA training examples, `data/format/{ica,pba}/{train,val}.parquet`.

Test, novel and benchmark examples are formatted by `eval_inputs`, with the same code and settings, so that
changing an eval set never re-runs training.
"""

from __future__ import annotations

from prefect import flow

from alignx.annotation.apply import preparer
from alignx.contracts import BASE_DIR, FORMAT_DIR, PAIRS_DIR, TRAIN_SPLITS
from alignx.inputs import files
from alignx.inputs.examples import FormatSpec
from alignx.pipeline.stage import stage


@flow(name="format", log_prints=True)
def format_flow() -> str:
    """Format, gate and publish `data/format/` (both aligners, train and val)."""
    with stage("format", reads=("space", "directions")) as st:
        cfg = FormatSpec.from_config(st.params, st.section("space"))
        prepare = preparer(st.section("directions").use)  # None under the default `labelled`
        tokenizer = files.base_tokenizer(BASE_DIR, cfg.max_len)
        sources = {s: PAIRS_DIR / f"{s}.parquet" for s in TRAIN_SPLITS}
        frames: dict = {}
        st.publish(
            FORMAT_DIR,
            lambda tmp: frames.update(files.format_all(tmp, sources, tokenizer, cfg, st.params.chunk_rows, prepare)),
            lambda tmp: files.format_gates(frames, cfg.max_len, "format"),
            log_artifact=False,
        )
        st.report(files.format_figures(frames))
    return str(FORMAT_DIR)
