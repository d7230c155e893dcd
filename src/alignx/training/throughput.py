"""Throughput and MFU accounting of a training run: what each step ran (tokens, FLOPs, phase times), its rates,
and their means over the steps after the run's first (which pays for allocation and kernel selection).

Pure bookkeeping: nothing here touches the model's numerics (alignx.training.flops counts, the trainer steps).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from alignx.training import flops
from alignx.training.data import sequence_tokens
from alignx.training.step_metrics import reduce_mean

PHASES = ("forward", "backward", "optimizer")


@dataclass(frozen=True)
class ModelShape:
    """What a model's training FLOPs scale with (alignx.training.flops), read before adapters wrap it."""

    matmul_params: int  # Linear weights and biases, each shared tensor once (the LM head included)
    head_params: int  # the LM head's share, run only at response-predicting positions
    attention_width: int  # heads x head dim
    layers: int

    @classmethod
    def of(cls, model: torch.nn.Module) -> ModelShape:
        return cls(flops.flops_params(model), flops.head_params(model), *flops.attention_shape(model))


@dataclass
class StepCounts:
    """What one optimizer step ran on this rank: sequence tokens, positions the body and the head ran at, attended
    (query, key) pairs, and the seconds of each phase."""

    tokens: int = 0
    run: int = 0
    head: int = 0
    pairs: int = 0
    phase: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))

    def add_batch(self, batch: dict[str, torch.Tensor]) -> None:
        self.tokens += sequence_tokens(batch)  # throughput counts the sequences' tokens, packed or not
        n, n_head = flops.counted_tokens(batch)  # FLOPs: positions run (prompt once), head at responses only
        self.run, self.head = self.run + n, self.head + n_head
        self.pairs += flops.attended_pairs(batch)

    def add_times(self, forward: float, backward: float, optimizer: float) -> None:
        self.phase["forward"] += forward
        self.phase["backward"] += backward
        self.phase["optimizer"] += optimizer


class Throughput:
    """Per-step rates of a run on `world` processes against the matmul peaks measured in this process, and their
    means. Measuring the peaks draws from torch's global RNG: construct it where the run did (after the
    checkpoint is loaded, before the first step)."""

    def __init__(self, shape: ModelShape, bf16: bool, weight_grads: bool, world: int):
        self.shape, self.weight_grads, self.world = shape, weight_grads, world
        self.peaks = {name: flops.matmul_peak(name) for name in flops.DTYPES}
        self.peak = self.peaks["bf16" if bf16 else "fp32"]
        self.timed = {"seconds": 0.0, "tokens": 0.0, "flops": 0.0, **dict.fromkeys(PHASES, 0.0)}
        self.timed_steps = 0

    def step(self, counts: StepCounts, elapsed: float, timed: bool) -> dict[str, float]:
        """The step's rates (all ranks together; a collective when world > 1); `timed` adds it to the means."""
        reduced = reduce_mean({"tokens": float(counts.tokens), "run": float(counts.run), "head": float(counts.head),
                               "pairs": float(counts.pairs)}, self.world)
        world, shape = self.world, self.shape
        tokens_all = reduced["tokens"] * world
        step_flops = (flops.training_flops(shape.matmul_params, reduced["run"] * world, shape.head_params,
                                           reduced["head"] * world, weight_grads=self.weight_grads)
                      + flops.attention_flops(reduced["pairs"] * world, shape.attention_width, shape.layers))
        if timed:
            for k, v in (("seconds", elapsed), ("tokens", tokens_all), ("flops", step_flops), *counts.phase.items()):
                self.timed[k] += v
        return {
            "tokens_per_second": tokens_all / elapsed,
            "mfu": flops.mfu(step_flops / elapsed, self.peak * world),
            "mfu_fp32_peak": flops.mfu(step_flops / elapsed, self.peaks["fp32"] * world),
            "mfu_bf16_peak": flops.mfu(step_flops / elapsed, self.peaks["bf16"] * world),
            "step_seconds": elapsed,
            **{f"time/{k}": v for k, v in counts.phase.items()},
        }

    def means(self, n_steps: int) -> dict[str, float]:
        """The run's means over its `n_steps` timed steps (empty when none was timed)."""
        timed = self.timed
        if timed["seconds"] <= 0:
            return {}
        world, peaks = self.world, self.peaks
        tps = timed["tokens"] / timed["seconds"]
        achieved = timed["flops"] / timed["seconds"]
        return {"mean/tokens_per_second": tps, "mean/mfu_fp32_peak": flops.mfu(achieved, peaks["fp32"] * world),
                "mean/mfu_bf16_peak": flops.mfu(achieved, peaks["bf16"] * world), "mean/flops_per_second": achieved,
                **{f"mean/time/{k}": timed[k] / n_steps for k in PHASES},
                "mean/step_seconds": timed["seconds"] / n_steps, "peak_fp32_flops": peaks["fp32"],
                "peak_bf16_flops": peaks["bf16"], "matmul_params": float(self.shape.matmul_params),
                "head_params": float(self.shape.head_params)}
