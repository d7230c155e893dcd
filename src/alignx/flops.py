"""Model FLOPs utilisation: training FLOPs (~6 N per token) against a matmul peak measured on this machine.

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


def flops_params(model: torch.nn.Module) -> int:
    """Parameters that cost matmul FLOPs: all but the input embedding table (a lookup, not a matmul)."""
    embedding = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    skip = {id(p) for p in embedding.parameters()} if embedding is not None else set()
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is not None:  # a tied LM head is a real matmul even though it shares the embedding's weight
        skip -= {id(p) for p in head.parameters()}
    return sum(p.numel() for p in model.parameters() if id(p) not in skip)


def training_flops(n_params: int, tokens: int) -> float:
    """Forward + backward FLOPs of a training step over `tokens` tokens (Kaplan et al.: 6 N per token)."""
    return 6.0 * n_params * tokens


def mfu(n_params: int, tokens_per_second: float, peak: float) -> float:
    """Model FLOPs utilisation: achieved training FLOP/s over the peak FLOP/s."""
    return training_flops(n_params, 1) * tokens_per_second / peak if peak > 0 else float("nan")
