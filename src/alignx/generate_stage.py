"""Stage `generate@{ica,pba}`: a seeded sample of the eval sets, the aligner and the base model loaded, responses of
the aligner and both baselines generated and judged with known truth (alignx.generation), and the output's gate.

A top-level module like `space_stage`: it wires `alignx.generation` (below `evaluation` in the layers: the
registered pyfunc generates with it) to the eval sets and the aligner loader of `alignx.evaluation`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alignx.config import GenerateConfig, SpaceConfig
from alignx.contracts import BASE_DIR, generate_dir, model_dir
from alignx.evaluation import eval_sets
from alignx.generation import experiment, files, llm_judge
from alignx.generation.decoding import Sampling
from alignx.generation.parallel import GenerationJob, generated
from alignx.modeling.model import device_of, load_hf, load_policy, stored_dtype
from alignx.pipeline import gates, outputs


def load_sets(aligner: str, p: GenerateConfig, max_len: int, check: Callable[..., None]) -> dict[str, pd.DataFrame]:
    """A seeded sample of each eval split in `p.records`, each checked by `check(gate result, where=...)`
    (Stage.check); an empty split other than `test` is skipped, as evaluate does."""
    sets = {}
    for split, n in p.records.items():
        files_ = eval_sets.paths(aligner, split)
        frame = eval_sets.load(files_)
        if frame.empty and split != "test":  # imported data may have no novel split
            print(f"generate@{aligner}: eval set {split!r} has no examples ({files_['examples']}): skipped")
            continue
        if frame.empty:
            raise eval_sets.EvalInputError(f"{files_['examples']}: no examples; the test split is required")
        check(eval_sets.gate(frame, split, max_len), where=str(files_["examples"]))
        sets[split] = experiment.sample(frame, n, p.seed)
    return sets


def build_generator(aligner: str, p: GenerateConfig, max_len: int, spc: SpaceConfig) -> experiment.Generator:
    """The aligner (adapter on the base, or merged) and the base model, in the reference's precision, on `p.device`.
    With several processes (`generate.num_processes` / `hostfile`) the ranks load the aligner; this process keeps
    the base model only (the perplexities of the responses)."""
    dtype, device = stored_dtype(BASE_DIR), device_of(p.device)
    base, tokenizer = load_hf(BASE_DIR, dtype)
    policy = None if generation_job(aligner, p, max_len).distributed else load_policy(model_dir(aligner), BASE_DIR, dtype)[0]
    return experiment.Generator(
        aligner=aligner, policy=policy.to(device) if policy is not None else None, base=base.to(device), tokenizer=tokenizer,
        sampling=Sampling(p.temperature, p.top_k, p.top_p, p.max_new_tokens, p.do_sample), seed=p.seed,
        max_len=max_len, batch_size=p.batch_size, thresholds=(spc.positive_threshold, spc.negative_threshold),
    )


def generation_job(aligner: str, p: GenerateConfig, max_len: int) -> GenerationJob:
    """How the ranks of a data-parallel generation load the models and sample (alignx.generation.parallel)."""
    sampling = Sampling(p.temperature, p.top_k, p.top_p, p.max_new_tokens, p.do_sample)
    return GenerationJob(str(BASE_DIR), str(model_dir(aligner)), asdict(sampling), max_len - p.max_new_tokens,
                         p.batch_size, p.device, p.num_processes, p.hostfile)


def run(gen: experiment.Generator, sets: dict[str, pd.DataFrame], p: GenerateConfig,
        novel: tuple[int, ...]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every response (aligner, baselines; PBA's controllability probes; the side-by-side contrast) and the judged
    summary (win rates, well-formed share, perplexity, speed; the LLM judge's when `p.judge.model` is set).
    Controllability probes never flip a `novel` dimension (indices). The responses come from this process or from
    `generate.num_processes` ranks (alignx.generation.parallel: the same responses)."""
    start = time.perf_counter()

    def responses() -> tuple[list[pd.DataFrame], list[dict]]:
        frames = [gen.systems(rows, split) for split, rows in sets.items()]
        if gen.aligner == "pba" and "test" in sets:
            rows = experiment.sample(sets["test"], p.control_records, p.seed + 1)
            frames.append(gen.control(rows, experiment.control_dims(p.control_dims, p.seed, novel)))
        contrast, examples = gen.contrast(sets.get("test", next(iter(sets.values()))), p.examples,
                                          np.random.default_rng(p.seed))
        return [*frames, contrast], examples

    job = generation_job(gen.aligner, p, gen.max_len)
    if job.distributed:
        parts = outputs.staging_path(generate_dir(gen.aligner).with_name(f"{gen.aligner}-parts"))
        try:
            frames, examples = generated(gen, job, responses, parts)
        finally:
            outputs.discard(parts)
    else:
        frames, examples = responses()
    generations = files.concat(frames)
    speed = {"seconds": gen.seconds, "new_tokens": gen.tokens, "tokens_per_second": gen.tokens / max(gen.seconds, 1e-9)}
    summary = experiment.summarize(generations, examples, speed)
    if p.judge.model:
        summary["llm_judge"] = llm_judge.judge_generations(p.judge, generations, sets, gen.base.device)
    summary["speed"]["stage_seconds"] = time.perf_counter() - start
    return generations, summary


def gate_output(min_non_empty: float) -> Callable[[Path, object], gates.GateResult | list[gates.GateResult]]:
    """The gate of `data/generate/<aligner>` for Stage.publish (files.gate with the params' least non-empty share)."""
    return lambda folder, _written=None: files.gate(folder, min_non_empty)
