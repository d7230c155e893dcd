"""Stage `eval_inputs@{splits,benchmarks}`: the evaluation-only inputs, formatted and scored by the base model
exactly as `format` and `reference` do for training, under `data/eval/<group>/{format,reference}/<aligner>/`.

`splits`: the test and novel splits of `data/pairs`; `benchmarks`: every file of `data/benchmarks`. Kept apart
from the training inputs so that changing a benchmark re-runs only its inputs and `evaluate`.
"""

from __future__ import annotations

import json

import torch
from prefect import flow

from alignx.annotation.apply import preparer
from alignx.contracts import BASE_DIR, BENCHMARKS_DIR, EVAL_DIR, EVAL_GROUPS, EVAL_SPLITS, PAIRS_DIR
from alignx.inputs import files
from alignx.inputs.examples import FormatSpec
from alignx.modeling.model import device_of, load_hf, stored_dtype
from alignx.modeling.tokenizer import pad_id
from alignx.pipeline.stage import stage


def sources(group: str) -> dict:
    """Eval set name -> records file of one group."""
    if group == "splits":
        return {s: PAIRS_DIR / f"{s}.parquet" for s in EVAL_SPLITS}
    manifest = json.loads((BENCHMARKS_DIR / "manifest.json").read_text())
    return {name: BENCHMARKS_DIR / f"{name}.parquet" for name in manifest["benchmarks"]}


@flow(name="eval_inputs", log_prints=True)
def eval_inputs_flow(variant: str) -> str:
    """Format and score one group of eval sets; gate and publish `data/eval/<variant>/`."""
    if variant not in EVAL_GROUPS:
        raise ValueError(f"eval_inputs: unknown group {variant!r} (expected one of {EVAL_GROUPS})")
    out = EVAL_DIR / variant
    with stage(f"eval_inputs@{variant}", reads=("format", "space", "reference", "directions")) as st:
        cfg = FormatSpec.from_config(st.section("format"), st.section("space"))
        prepare = preparer(st.section("directions").use)  # None under the default `labelled`
        ref = st.section("reference")
        tokenizer = files.base_tokenizer(BASE_DIR, cfg.max_len)
        torch.manual_seed(0)
        model, _ = load_hf(BASE_DIR, stored_dtype(BASE_DIR))
        model = model.to(device_of(ref.device)).eval()
        frames, results, figures = {}, [], {}

        def write(tmp):
            tmp.mkdir(parents=True)
            chunk_rows = st.section("format").chunk_rows
            frames.update(files.format_all(tmp / "format", sources(variant), tokenizer, cfg, chunk_rows, prepare))
            found, figs = files.score_all(model, tmp / "format", tmp / "reference", ref.batch_size, pad_id(tokenizer))
            results.extend(found)
            figures.update(figs)

        st.publish(out, write, lambda tmp: files.format_gates(frames, cfg.max_len, f"eval_{variant}") + results,
                   log_artifact=False)
        st.report({**files.format_figures(frames), **{f"reference.{k}": v for k, v in figures.items()}})
    return str(out)
