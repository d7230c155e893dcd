"""Stage `generate@{ica,pba}`: personalized responses of the aligner and both baselines, judged with known truth."""

from __future__ import annotations

import time

import numpy as np
from prefect import flow

from alignx.contracts import ALIGNERS, BASE_DIR, generate_dir, model_dir
from alignx.evaluation import inputs
from alignx.evaluation.scoring import load_policy
from alignx.generation import experiment, files, llm_judge
from alignx.generation.decoding import Sampling
from alignx.modeling.model import device_of, load_hf, stored_dtype
from alignx.pipeline.stage import stage
from alignx.world.users import dim_indices


@flow(name="generate", log_prints=True)
def generate_flow(variant: str) -> str:
    """Generate and judge for aligner `variant` (ica / pba) into `data/generate/<variant>/`."""
    if variant not in ALIGNERS:
        raise ValueError(f"generate: unknown aligner {variant!r} (expected one of {ALIGNERS})")
    with stage(f"generate@{variant}", reads=("format", "space", "personas")) as st:
        p, spc = st.params, st.section("space")
        start = time.perf_counter()
        sets = {}
        for split, n in p.records.items():
            frame = inputs.load(inputs.paths(variant, split))
            if frame.empty and split != "test":  # imported data may have no novel split (as evaluate does)
                print(f"generate@{variant}: eval set {split!r} has no examples: skipped")
                continue
            st.check(inputs.gate(frame, split, st.section("format").max_len), where=split)
            sets[split] = experiment.sample(frame, n, p.seed)
        dtype, device = stored_dtype(BASE_DIR), device_of(p.device)
        base, tokenizer = load_hf(BASE_DIR, dtype)
        policy, _ = load_policy(model_dir(variant), BASE_DIR, dtype)
        gen = experiment.Generator(
            aligner=variant, policy=policy.to(device), base=base.to(device), tokenizer=tokenizer,
            sampling=Sampling(p.temperature, p.top_k, p.top_p, p.max_new_tokens, p.do_sample), seed=p.seed,
            max_len=st.section("format").max_len, batch_size=p.batch_size,
            thresholds=(spc.positive_threshold, spc.negative_threshold),
        )
        frames = [gen.systems(rows, split) for split, rows in sets.items()]
        if variant == "pba" and "test" in sets:
            novel = dim_indices(st.section("personas").novel_dims)
            rows = experiment.sample(sets["test"], p.control_records, p.seed + 1)
            frames.append(gen.control(rows, experiment.control_dims(p.control_dims, p.seed, novel)))
        contrast, examples = gen.contrast(sets.get("test", next(iter(sets.values()))), p.examples,
                                          np.random.default_rng(p.seed))
        generations = files.concat([*frames, contrast])
        speed = {"seconds": gen.seconds, "new_tokens": gen.tokens,
                 "tokens_per_second": gen.tokens / max(gen.seconds, 1e-9)}
        summary = experiment.summarize(generations, examples, speed)
        if p.judge.model:
            summary["llm_judge"] = llm_judge.judge_generations(p.judge, generations, sets, device)
        summary["speed"]["stage_seconds"] = time.perf_counter() - start
        st.publish(generate_dir(variant), lambda tmp: files.write(tmp, generations, summary),
                   lambda path: files.gate(path, p.min_non_empty))
        st.report(files.flat(summary), title=f"generate@{variant}")
    return str(generate_dir(variant))
