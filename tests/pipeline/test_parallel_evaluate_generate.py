"""Data-parallel evaluation scoring and generation (alignx.evaluation.parallel, alignx.generation.parallel) on small
hand-written inputs: 2 CPU processes under the `deepspeed` launcher give the same bits as one process (the
evaluation's scores, a repeated call shared; the sampled responses, batch for batch from the same seeds), and a
rank that fails fails the pass naming it."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from alignx.evaluation import parallel as eval_parallel
from alignx.evaluation.scoring import Scorer
from alignx.generation.decoding import Sampling
from alignx.generation.experiment import Generator
from alignx.generation.parallel import GenerationJob, generated
from alignx.modeling.model import load_hf, load_policy
from alignx.modeling.parallel_scoring import RankError, ScoringJob
from tests.toy import PAD, ToySize, write_base

SIZE = ToySize(vocab=64, hidden=32, layers=1, heads=2)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("models")
    return write_base(root / "base", SIZE, seed=0), write_base(root / "aligner", SIZE, seed=1)


def id_frame(n: int, seed: int) -> pd.DataFrame:
    """`n` (prompt, chosen, rejected) id triples of varied lengths (so the batch plan sorts and pads)."""
    rng = np.random.default_rng(seed)
    ids = lambda lo, hi: rng.integers(3, SIZE.vocab, int(rng.integers(lo, hi))).tolist()  # noqa: E731
    return pd.DataFrame({"prompt_ids": [ids(3, 40) for _ in range(n)], "chosen_ids": [ids(1, 16) for _ in range(n)],
                         "rejected_ids": [ids(1, 16) for _ in range(n)]})


@pytest.mark.slow
def test_evaluation_scoring_with_two_processes_is_bitwise_one_process(folders, tmp_path):
    base, aligner = folders
    calls = [id_frame(21, 0), id_frame(7, 1), id_frame(21, 0)]  # the third repeats the first: scored once

    def measure(policy: Scorer, ref: Scorer) -> list[tuple[np.ndarray, np.ndarray]]:
        return [policy(calls[0], "a"), ref(calls[1], "b"), policy(calls[2], "c"), ref(calls[0], "d")]

    base_model, _ = load_hf(base, torch.float32)
    policy_model, _ = load_policy(aligner, base, torch.float32)
    one = measure(Scorer("policy", policy_model, 4, PAD, "cpu"), Scorer("base", base_model, 4, PAD, "cpu"))

    common = {"base": str(base), "device": "cpu", "batch_size": 4, "num_processes": 2, "setting": "evaluate"}
    jobs = {"policy": ScoringJob(policy=str(aligner), **common), "base": ScoringJob(**common)}
    scorers = {"policy": Scorer("policy", None, 4, PAD), "base": Scorer("base", None, 4, PAD)}
    two = eval_parallel.scored(scorers, jobs, lambda: measure(scorers["policy"], scorers["base"]), tmp_path / "parts")

    assert len(two) == len(one)
    for k, ((c1, r1), (c2, r2)) in enumerate(zip(one, two)):
        assert c1.dtype == c2.dtype == np.float64
        assert c1.tobytes() == c2.tobytes() and r1.tobytes() == r2.tobytes(), f"call {k} differs"
    assert not np.array_equal(one[0][0], one[3][0])  # the aligner and the base really are different models
    assert scorers["policy"].pairs == 42 and scorers["base"].pairs == 28
    assert not list((tmp_path / "parts").glob("calls/policy.00002.parquet"))  # the repeat was shared, not written


def generator(policy, base, tokenizer) -> Generator:
    return Generator(aligner="pba", policy=policy, base=base, tokenizer=tokenizer,
                     sampling=Sampling(max_new_tokens=10), seed=3, max_len=64, batch_size=3, thresholds=(0.6, 0.4))


def prompts(n: int, seed: int) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    # numpy arrays of int32, as the eval sets hold prompt ids (the ranks receive them as JSON)
    return [rng.integers(3, SIZE.vocab, int(rng.integers(2, 30))).astype(np.int32) for _ in range(n)]


def responses(gen: Generator) -> list:
    return [gen.run("policy", prompts(8, 0), "a"), gen.run("base", prompts(5, 1), "b", seed_offset=7919),
            gen.run("policy", prompts(4, 2), "c")]


def job(base: Path, aligner: Path, gen: Generator) -> GenerationJob:
    return GenerationJob(str(base), str(aligner), asdict(gen.sampling), gen.max_prompt_len, gen.batch_size, "cpu", 2)


@pytest.mark.slow
def test_generation_with_two_processes_gives_the_same_responses(folders, tmp_path):
    base, aligner = folders
    base_model, tokenizer = load_hf(base, torch.float32)
    policy_model, _ = load_policy(aligner, base, torch.float32)
    one = responses(generator(policy_model, base_model, tokenizer))

    gen = generator(None, base_model, tokenizer)  # the ranks load the aligner
    two = generated(gen, job(base, aligner, gen), lambda: responses(gen), tmp_path / "parts")

    flat = lambda calls: [(g.response_ids, g.text, g.ended, g.n_cut) for call in calls for g in call]  # noqa: E731
    assert [len(c) for c in two] == [8, 5, 4]
    assert flat(two) == flat(one)
    assert sum(len(g.response_ids) for call in one for g in call) > 0
    assert gen.tokens == sum(len(g.response_ids) + int(g.ended) for call in one for g in call)


@pytest.mark.slow
def test_a_failing_generation_rank_is_named_and_nothing_comes_back(folders, tmp_path):
    base, _ = folders
    base_model, tokenizer = load_hf(base, torch.float32)
    gen = generator(None, base_model, tokenizer)
    with pytest.raises(RankError, match=r"generate: rank 0 failed: .*rank 1 failed"):
        generated(gen, job(base, tmp_path / "no-such-aligner", gen), lambda: responses(gen), tmp_path / "parts")
    assert gen.answers is None and gen.recorded is None
