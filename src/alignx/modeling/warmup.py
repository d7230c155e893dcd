"""The language-model warm-up of the tiny base model: packed token blocks of rendered training inputs, AdamW with a
linear warm-up then cosine decay (stage `base`, alignx.modeling.base)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from tqdm.auto import tqdm


def pack(token_lists: Iterable[list[int]], seq_len: int) -> torch.Tensor:
    """Concatenate token lists and cut them into [N, seq_len] blocks (standard LM packing; the tail is dropped)."""
    flat = [t for ids in token_lists for t in ids]
    n = len(flat) // seq_len
    if n == 0:
        raise ValueError(f"warm-up corpus has {len(flat)} tokens, fewer than one block of {seq_len}")
    return torch.tensor(flat[: n * seq_len], dtype=torch.long).view(n, seq_len)


def warmup(
    model: torch.nn.Module, blocks: torch.Tensor, steps: int, batch_size: int, lr: float, seed: int,
    progress: bool = True,
) -> list[float]:
    """Train `model` as a language model on packed `blocks` for `steps` AdamW steps (cosine decay after a 10 %
    linear warm-up); returns the loss per step."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.95))
    warm = max(1, steps // 10)

    # The same shape as the DPO trainer's schedule (alignx.training.trainer.cosine_with_warmup) but its own
    # arithmetic: pi * (s - warm) / n rounds differently from pi * ((s - warm) / n) at most steps, and sharing one
    # function would change the tiny base model's weights (so every downstream figure) in the last bits.
    def schedule(s: int) -> float:
        if s < warm:
            return (s + 1) / warm
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    model.train()
    losses = []
    for _ in tqdm(range(steps), desc="warm-up", unit="step", disable=not progress):
        batch = blocks[torch.randint(len(blocks), (batch_size,), generator=gen)]
        loss = model(input_ids=batch, labels=batch, use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    model.eval()
    return losses
