"""Stage `eval_inputs@{splits,benchmarks}`: the evaluation-only inputs, formatted and scored by the base model
exactly as `format` and `reference` do for training (alignx.modeling.eval_inputs)."""

from __future__ import annotations

from prefect import flow

from alignx.annotation.apply import preparer
from alignx.contracts import BASE_DIR, EVAL_DIR, EVAL_GROUPS
from alignx.inputs.format import base_tokenizer
from alignx.modeling import eval_inputs, reference
from alignx.pipeline.stage import stage


@flow(name="eval_inputs", log_prints=True)
def eval_inputs_flow(variant: str) -> str:
    """Format and score one group of eval sets; gate and publish `data/eval/<variant>/`."""
    if variant not in EVAL_GROUPS:
        raise ValueError(f"eval_inputs: unknown group {variant!r} (expected one of {EVAL_GROUPS})")
    out = EVAL_DIR / variant
    with stage(f"eval_inputs@{variant}", reads=("format", "space", "reference", "directions")) as st:
        fmt, spc, ref = st.section("format"), st.section("space"), st.section("reference")
        prepare = preparer(st.section("directions").use)  # None under the default `labelled`
        tokenizer = base_tokenizer(BASE_DIR, fmt.max_len)
        job = reference.scoring_job(BASE_DIR, ref)  # the base model, in this process or across ref.num_processes
        written = st.publish(
            out,
            lambda tmp: eval_inputs.write_eval_inputs(tmp, variant, tokenizer, job, fmt, spc, prepare),
            lambda tmp, written: eval_inputs.gate_eval_inputs(variant, written, fmt.max_len),
            log_artifact=False,
        )
        st.report(eval_inputs.eval_inputs_figures(written))
    return str(out)
