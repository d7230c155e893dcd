"""Stage `generate@{ica,pba}`: personalized responses of the aligner and both baselines, judged with known truth
(alignx.generate_stage)."""

from __future__ import annotations

from prefect import flow

from alignx import generate_stage
from alignx.contracts import ALIGNERS, generate_dir
from alignx.generation import files
from alignx.pipeline.stage import stage


@flow(name="generate", log_prints=True)
def generate_flow(variant: str) -> str:
    """Generate and judge for aligner `variant` (ica / pba) into `data/generate/<variant>/`."""
    if variant not in ALIGNERS:
        raise ValueError(f"generate: unknown aligner {variant!r} (expected one of {ALIGNERS})")
    with stage(f"generate@{variant}", reads=("format", "space", "personas")) as st:
        p, max_len = st.params, st.section("format").max_len
        sets = generate_stage.load_sets(variant, p, max_len, st.check)
        gen = generate_stage.build_generator(variant, p, max_len, st.section("space"))
        generations, summary = generate_stage.run(gen, sets, p, st.section("personas").novel_indices)
        st.publish(generate_dir(variant), lambda tmp: files.write(tmp, generations, summary),
                   generate_stage.gate_output(p.min_non_empty))
        st.report(files.flat(summary), title=f"generate@{variant}")
    return str(generate_dir(variant))
