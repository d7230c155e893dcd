"""Batched, KV-cached sampling of responses with HF `generate`, and their perplexity under a scoring model.

    outs = generate(model, tokenizer, prompt_ids, settings, seed=0)   # one Generation per prompt, in order

Prompts are left-padded into batches (the decoder continues every row from its last prompt token) and cut from
the LEFT to `max_prompt_len` tokens when longer (the paper's `gen_*.py` do the same), so the post, which ends
the prompt, is always kept. Sampling is seeded: `torch.manual_seed(seed + batch index)` before each batch, so a
run is reproducible given the same prompts, batch size and settings, and a batch gives the same responses whichever
process generates it (`generation_plan` + `generate_batches`: alignx.generation.parallel).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from alignx.modeling.logprobs import collate, sequence_logprobs


@dataclass(frozen=True)
class Sampling:
    """Decoding settings (the `generate` params section's sampling keys; the paper's defaults)."""

    temperature: float = 0.9
    top_k: int = 10
    top_p: float = 0.95
    max_new_tokens: int = 160
    do_sample: bool = True

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1 or self.temperature <= 0 or not 0 < self.top_p <= 1 or self.top_k < 0:
            raise ValueError(f"sampling settings out of range: {self}")


@dataclass
class Generation:
    """One sampled response: its ids (EOS excluded), its text, whether it ended with EOS, prompt tokens cut."""

    response_ids: list[int]
    text: str
    ended: bool
    n_cut: int


def left_pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded input_ids [B, T] and attention_mask [B, T] (1 on real tokens)."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if len(row):
            ids[i, width - len(row) :] = torch.as_tensor(list(row), dtype=torch.long)
            mask[i, width - len(row) :] = 1
    return ids, mask


def generation_plan(prompt_ids: Sequence[Sequence[int]], batch_size: int) -> list[np.ndarray]:
    """The batches `generate` runs, in order: prompt positions sorted by length (stable), cut every `batch_size`.
    Batch b is sampled from seed + b, so its responses do not depend on which process runs it."""
    if batch_size < 1:
        raise ValueError(f"generate: batch_size must be >= 1, got {batch_size}")
    order = np.argsort([len(p) for p in prompt_ids], kind="stable")
    return [order[first : first + batch_size] for first in range(0, len(order), batch_size)]


def generate_batches(
    model: torch.nn.Module,
    tokenizer: Any,
    prompt_ids: Sequence[Sequence[int]],
    plan: Sequence[np.ndarray],
    numbers: Sequence[int],
    sampling: Sampling,
    seed: int,
    max_prompt_len: int,
    progress: bool = True,
    desc: str = "generate",
) -> tuple[dict[int, Generation], int]:
    """Planned batches `numbers` of `plan` (a `generation_plan`), batch b sampled after torch.manual_seed(seed + b):
    ({prompt position: Generation}, new tokens)."""
    from alignx.modeling.tokenizer import pad_id as pad_of

    eos, pad = tokenizer.eos_token_id, pad_of(tokenizer)
    if eos is None:
        raise ValueError(f"{type(tokenizer).__name__}: no EOS token; generation could not stop")
    if max_prompt_len < 1:
        raise ValueError(f"max_prompt_len must be >= 1, got {max_prompt_len}")
    device = next(model.parameters()).device
    out: dict[int, Generation] = {}
    new_tokens = 0
    was_training = model.training
    model.eval()
    try:
        for b in tqdm(numbers, desc=desc, unit="batch", disable=not progress):
            idx = plan[b]
            rows = [list(prompt_ids[i])[-max_prompt_len:] for i in idx]
            ids, mask = left_pad(rows, pad)
            torch.manual_seed(seed + b)
            with torch.no_grad():
                seqs = model.generate(
                    input_ids=ids.to(device), attention_mask=mask.to(device), do_sample=sampling.do_sample,
                    temperature=sampling.temperature if sampling.do_sample else None,
                    top_k=sampling.top_k if sampling.do_sample else None,
                    top_p=sampling.top_p if sampling.do_sample else None,
                    max_new_tokens=sampling.max_new_tokens, eos_token_id=eos, pad_token_id=pad, use_cache=True,
                )
            for row, i in zip(seqs[:, ids.shape[1] :].cpu().tolist(), idx):
                ended = eos in row
                response = row[: row.index(eos)] if ended else row
                new_tokens += len(response) + int(ended)
                text = tokenizer.decode(response, skip_special_tokens=True).strip()
                out[int(i)] = Generation(response, text, ended, max(0, len(prompt_ids[i]) - max_prompt_len))
    finally:
        model.train(was_training)
    return out, new_tokens


def generate(
    model: torch.nn.Module,
    tokenizer: Any,
    prompt_ids: Sequence[Sequence[int]],
    sampling: Sampling,
    seed: int,
    max_prompt_len: int,
    batch_size: int = 16,
    progress: bool = True,
    desc: str = "generate",
) -> tuple[list[Generation], dict[str, float]]:
    """Sample one response per prompt (in order) and the speed: {seconds, new_tokens, tokens_per_second}."""
    # Batches of similar prompt length waste little on padding; results go back to the input order.
    plan = generation_plan(prompt_ids, batch_size)
    start = time.perf_counter()
    out, new_tokens = generate_batches(model, tokenizer, prompt_ids, plan, range(len(plan)), sampling, seed,
                                       max_prompt_len, progress, desc)
    seconds = time.perf_counter() - start
    speed = {"seconds": seconds, "new_tokens": float(new_tokens), "tokens_per_second": new_tokens / max(seconds, 1e-9)}
    return [out[i] for i in range(len(prompt_ids))], speed


def perplexity(
    model: torch.nn.Module, prompt_ids: Sequence[Sequence[int]], response_ids: Sequence[Sequence[int]],
    eos_id: int, pad_id: int, batch_size: int = 16,
) -> np.ndarray:
    """Per-token perplexity of each response (EOS appended) given its prompt under `model`: exp(-mean log-prob)."""
    device = next(model.parameters()).device
    out = np.zeros(len(prompt_ids), dtype=np.float64)
    model.eval()
    with torch.no_grad():
        for first in range(0, len(prompt_ids), batch_size):
            p = [list(x) for x in prompt_ids[first : first + batch_size]]
            r = [list(x) + [eos_id] for x in response_ids[first : first + batch_size]]
            batch = collate(p, r, pad_id)
            logps = sequence_logprobs(model, {k: v.to(device) for k, v in batch.items()}).double().cpu().numpy()
            out[first : first + len(p)] = np.exp(-logps / np.array([len(x) for x in r]))
    return out
