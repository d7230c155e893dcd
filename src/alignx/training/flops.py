"""Model FLOPs utilisation: training FLOPs (~6 N per token) against a matmul peak measured on this machine.

The count follows what the trainer runs: the decoder body at every real (non-pad) token, the LM head only at
the positions that predict a response token (`alignx.modeling.logprobs.sequence_logprobs`). With a 4k-49k vocabulary
the head is a large share of N, so charging it at prompt positions overstated MFU several-fold on ~250-token
sequences with ~40-token responses. Attention scores (QK^T and the weighted sum of V, which 6 N leaves out) are
counted as PaLM's appendix B does, but only for the (query, key) pairs the mask lets through (`attended_pairs`):
not the padding, not the masked half of a causal row, not a packed row's rejected-to-chosen block. At hidden 384
and ~300-token rows they add about 6 % to the body's FLOPs.

The peak is what `torch.mm` reaches on square matrices in this process (all its threads), measured once per
dtype and cached: a quoted datasheet figure means little on a shared 2-core VM, a measured one does.
"""

from __future__ import annotations

import time
from functools import lru_cache

import torch

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


@lru_cache(maxsize=None)
def matmul_peak(dtype: str = "fp32", size: int = 1024, seconds: float = 0.5) -> float:
    """FLOP/s of an n x n x n matmul in `dtype` ("fp32" / "bf16") on the CPU: the fastest of the repetitions
    that fit in `seconds`. The best one, not the mean: on a shared machine other processes slow some
    repetitions down, and the peak is what the hardware can do, not what was left over."""
    if dtype not in DTYPES:
        raise ValueError(f"matmul_peak: dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    a = torch.randn(size, size).to(DTYPES[dtype])
    b = torch.randn(size, size).to(DTYPES[dtype])
    torch.mm(a, b)  # warm-up: first call pays for allocation and kernel selection
    best, reps, start = float("inf"), 0, time.perf_counter()
    while time.perf_counter() - start < seconds or reps < 3:
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
        reps += 1
    return 2 * size**3 / best


def head_params(model: torch.nn.Module) -> int:
    """Matmul parameters of the LM head (its weight, and bias if any); 0 for a model without one."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return sum(p.numel() for p in head.parameters()) if head is not None else 0


def flops_params(model: torch.nn.Module) -> int:
    """Parameters that cost matmul FLOPs: the weights (and biases) of the model's Linear layers, each shared
    tensor once. The input embedding is a lookup and norms are elementwise, so neither counts; a tied LM head
    is a real matmul and counts once. Includes the LM head (`head_params`), which the trainer runs at fewer
    positions than the body."""
    seen: dict[int, int] = {}
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            seen.update({id(p): p.numel() for p in module.parameters()})
    return sum(seen.values())


def counted_tokens(batch: dict[str, torch.Tensor]) -> tuple[int, int]:
    """(tokens, head_tokens) the model runs on for a `collate` or `collate_pairs` batch: the body at every real
    position (a packed row holds its prompt once), the LM head only where a position predicts a response token
    (`alignx.modeling.logprobs.sequence_logprobs` / `pair_logprobs`)."""
    if "segment" in batch:
        return int((batch["segment"] >= 0).sum()), int((batch["segment"] > 0).sum())
    return int(batch["attention_mask"].sum()), int(batch["response_mask"][:, 1:].sum())


def attended_pairs(batch: dict[str, torch.Tensor]) -> int:
    """(query, key) pairs the attention scores at real positions of a `collate` or `collate_pairs` batch: a causal
    row of n tokens has n (n + 1) / 2; in a packed row the prompt is causal and each response sees the prompt
    and itself causally (never the other response). Padding counts nothing."""
    def triangle(n: torch.Tensor) -> torch.Tensor:
        return n * (n + 1) // 2

    if "segment" in batch:
        seg = batch["segment"]
        n_prompt = (seg == 0).sum(1)
        responses = [(seg == s).sum(1) for s in (1, 2)]
        return int((triangle(n_prompt) + sum(n * n_prompt + triangle(n) for n in responses)).sum())
    return int(triangle(batch["attention_mask"].sum(1)).sum())


def attention_shape(model: torch.nn.Module) -> tuple[int, int]:
    """(query width = heads x head dim, decoder layers) of a transformers model's config: what the attention-score
    FLOPs scale with (grouped-query attention shares keys and values, not the scores)."""
    config = model.config
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return heads * head_dim, config.num_hidden_layers


def attention_flops(pairs: int, width: int, layers: int) -> float:
    """Forward + backward FLOPs of the attention scores for `pairs` attended (query, key) pairs: QK^T and the
    weighted sum of V cost 2 x 2 x width per pair and layer forward, twice that backward (input gradients only:
    the same with frozen weights)."""
    return 12.0 * width * layers * pairs


def training_flops(n_params: int, tokens: int, head_params: int = 0, head_tokens: int | None = None,
                   weight_grads: bool = True) -> float:
    """Forward + backward FLOPs of a training step (Kaplan et al.: 6 N per token: 2 N forward, 2 N for the
    input gradients, 2 N for the weight gradients). The body (`n_params - head_params`) runs at all `tokens`;
    the LM head (`head_params`) only at `head_tokens` positions (default: all `tokens`). Frozen weights
    (`weight_grads=False`, LoRA) cost 4 N: no weight gradients; the adapters' own few FLOPs are not counted."""
    head_tokens = tokens if head_tokens is None else head_tokens
    per_token = 6.0 if weight_grads else 4.0
    return per_token * ((n_params - head_params) * tokens + head_params * head_tokens)


def forward_flops(n_params: int, tokens: int, head_params: int = 0, head_tokens: int | None = None) -> float:
    """Forward-only FLOPs (scoring, the reference pass, a prefill): the forward third (2 N per token) of
    `training_flops`, the body at all `tokens` and the LM head at `head_tokens`."""
    return training_flops(n_params, tokens, head_params, head_tokens) / 3.0


def attention_forward_flops(pairs: int, width: int, layers: int) -> float:
    """Forward-only FLOPs of the attention scores: the forward third of `attention_flops`."""
    return attention_flops(pairs, width, layers) / 3.0


def mfu(flops_per_second: float, peak: float) -> float:
    """Model FLOPs utilisation: achieved training FLOP/s (`training_flops` / seconds) over the peak FLOP/s."""
    return flops_per_second / peak if peak > 0 else float("nan")
