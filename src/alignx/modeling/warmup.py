"""The language-model warm-up of the tiny base model: packed token blocks of rendered training inputs mixed with
blocks of repeated random spans (the induction curriculum), AdamW with a linear warm-up then cosine decay (stage
`base`, alignx.modeling.base).

Why the repeated spans: ICA reads its persona only if the model can look text up in its context (an induction
head: find the earlier occurrence of the current token, copy what followed it). The world's own text never makes
that pay, since every response is predictable from its templates, so a warm-up on it alone leaves the model
blind to its context (the copy probe stays at chance). Random spans that recur within a block can only be
predicted by copying. The heads form in a sudden phase change after a long plateau, and only with enough tokens
per step and a rate held constant (measured on the 2-layer, 128-wide default: 32 x 128-token blocks at 1e-3, no
weight decay, formed between steps 1,100 and 1,200; 8 x 256-token blocks at 3e-3 under the world's schedule never
did in 1,000): so the curriculum is a phase of its own, with its own batch shape and optimizer, before the world
warm-up, which then keeps a share of repeated blocks in every batch so the heads stay alive.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm


@dataclass(frozen=True)
class Curriculum:
    """The induction curriculum: `steps` steps on repeated-span blocks alone (`induction_phase`, before the world
    warm-up), then `share` of every world warm-up batch."""

    steps: int = 0
    share: float = 0.0
    span: tuple[int, int] = (8, 48)  # inclusive span lengths in tokens
    low_id: int = 3  # token ids drawn from [low_id, vocab_size): skips PAD/BOS/EOS
    batch_size: int = 32  # blocks per induction-phase step
    seq_len: int = 128  # tokens per induction-phase block
    lr: float = 1e-3  # the induction phase's rate, constant after a short ramp


def pack(token_lists: Iterable[list[int]], seq_len: int) -> torch.Tensor:
    """Concatenate token lists and cut them into [N, seq_len] blocks (standard LM packing; the tail is dropped)."""
    flat = [t for ids in token_lists for t in ids]
    n = len(flat) // seq_len
    if n == 0:
        raise ValueError(f"warm-up corpus has {len(flat)} tokens, fewer than one block of {seq_len}")
    return torch.tensor(flat[: n * seq_len], dtype=torch.long).view(n, seq_len)


def repeat_blocks(n: int, seq_len: int, vocab_size: int, cur: Curriculum, gen: torch.Generator) -> torch.Tensor:
    """[n, seq_len] blocks of random spans each written twice in a row (x x y y ...): the second copy of a span is
    predictable only by copying the first (every span length in `cur.span`, drawn per block)."""
    rows = []
    for _ in range(n):
        span = int(torch.randint(cur.span[0], cur.span[1] + 1, (1,), generator=gen))
        k = -(-seq_len // (2 * span))
        spans = torch.randint(cur.low_id, vocab_size, (k, 1, span), generator=gen)
        rows.append(spans.expand(k, 2, span).reshape(-1)[:seq_len])
    return torch.stack(rows)


def induction_score(model: torch.nn.Module, vocab_size: int, seed: int, n: int = 32, seq_len: int = 256,
                    span: int = 24) -> float:
    """Top-1 accuracy on the second copy of repeated random spans (past its first token): ~1 / vocab without
    in-context copying, ~1 with induction heads. Seeded, independent of the training draws."""
    cur = Curriculum(span=(span, span))
    blocks = repeat_blocks(n, seq_len, vocab_size, cur, torch.Generator().manual_seed(10_000 + seed))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        pred = model(input_ids=blocks.to(model.device), use_cache=False).logits[:, :-1].argmax(-1).cpu()
    model.train(was_training)
    pos = torch.arange(1, seq_len)  # position of each predicted token
    second = (pos % (2 * span)) > span  # inside a second copy, past its first token
    return float((pred == blocks[:, 1:])[:, second].float().mean())


def lm_step(model: torch.nn.Module, batch: torch.Tensor, opt: torch.optim.Optimizer,
            sched: torch.optim.lr_scheduler.LRScheduler) -> float:
    """One language-model step on `batch` (next-token loss, gradient norm clipped to 1, AdamW, schedule); its loss."""
    loss = model(input_ids=batch, labels=batch, use_cache=False).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    opt.zero_grad(set_to_none=True)
    return loss.item()


def induction_phase(model: torch.nn.Module, cur: Curriculum, seed: int, progress: bool = True) -> list[float]:
    """Train `model` on repeated-span blocks alone for `cur.steps` AdamW steps; returns the loss per step.

    The rate ramps up over 50 steps and then holds: the phase change comes after a plateau whose length a decaying
    rate only stretches. No weight decay: it would pull the copying circuit's weights back while it forms."""
    if cur.steps == 0:
        return []
    gen = torch.Generator().manual_seed(seed + 2)
    vocab = model.get_input_embeddings().weight.shape[0]
    opt = torch.optim.AdamW(model.parameters(), lr=cur.lr, weight_decay=0.0, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 50))
    model.train()
    losses = []
    for _ in tqdm(range(cur.steps), desc="induction phase", unit="step", disable=not progress):
        batch = repeat_blocks(cur.batch_size, cur.seq_len, vocab, cur, gen)
        losses.append(lm_step(model, batch, opt, sched))
    model.eval()
    return losses


def warmup(
    model: torch.nn.Module, blocks: torch.Tensor, steps: int, batch_size: int, lr: float, seed: int,
    progress: bool = True, curriculum: Curriculum = Curriculum(),
) -> list[float]:
    """Train `model` as a language model on packed `blocks` for `steps` AdamW steps (cosine decay after a 10 %
    linear warm-up), `curriculum.share` of every batch repeated-span blocks; returns the loss per step. (The
    curriculum's own phase, `induction_phase`, runs before this.)"""
    gen = torch.Generator().manual_seed(seed)
    # The repeated spans draw from their own stream, so the world batches are the same with or without them.
    span_gen = torch.Generator().manual_seed(seed + 1)
    vocab = model.get_input_embeddings().weight.shape[0]
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
        repeats = round(curriculum.share * batch_size)
        batch = blocks[torch.randint(len(blocks), (batch_size - repeats,), generator=gen)]
        if repeats:
            extra = repeat_blocks(repeats, blocks.shape[1], vocab, curriculum, span_gen)
            batch = torch.cat([batch, extra])
        losses.append(lm_step(model, batch, opt, sched))
    model.eval()
    return losses
