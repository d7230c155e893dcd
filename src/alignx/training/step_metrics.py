"""What training measures besides throughput: per-step metrics to MLflow, the held-out DPO loss and accuracy, the
gradient norm, the mean over ranks."""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from alignx.training.dpo import dpo_loss
from alignx.training.data import dpo_batch, model_inputs, sequence_lengths


class MetricSink:
    """Per-step metrics to MLflow (rank 0, batched every few steps so sqlite writes stay off the hot path)."""

    def __init__(self, run_id: str | None, every: int = 10):
        self.run_id, self.every, self.pending = run_id, every, []

    def log(self, metrics: dict[str, float], step: int) -> None:
        if not self.run_id:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.pending += [Metric(k, float(v), now, step) for k, v in metrics.items() if math.isfinite(float(v))]
        if step % self.every == 0:
            self.flush()

    def flush(self) -> None:
        if self.run_id and self.pending:
            from mlflow.tracking import MlflowClient

            MlflowClient().log_batch(self.run_id, metrics=self.pending)
            self.pending = []


def reduce_mean(values: dict[str, float], world: int) -> dict[str, float]:
    """Mean over ranks of per-rank means (every rank holds the same number of examples)."""
    if world == 1:
        return values
    t = torch.tensor(list(values.values()), dtype=torch.float64)
    torch.distributed.all_reduce(t)
    return dict(zip(values, (t / world).tolist()))


def grad_norm(module: torch.nn.Module) -> float:
    """Pre-clipping L2 norm of the reduced gradients. DeepSpeed records it for ZeRO >= 1 and bf16 only; at
    ZeRO 0 in fp32 the gradients are whole on every rank at the accumulation boundary, so compute it here."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]))) if grads else 0.0


def evaluate(engine, frame, beta: float, micro: int, pad_id: int, rank: int, world: int,
             packed: bool = False) -> dict[str, float]:
    """Held-out DPO loss and reward accuracy. Every rank scores its share in the same number of forward
    passes (ZeRO-3 gathers parameters collectively): a rank that runs out scores one example at weight 0."""
    engine.eval()
    order = np.argsort(sequence_lengths(frame), kind="stable")
    mine = order[rank::world]
    passes = math.ceil(math.ceil(len(frame) / world) / micro)
    sums = torch.zeros(3, dtype=torch.float64)  # loss sum, correct count, examples
    with torch.no_grad():
        for b in range(passes):
            idx = mine[b * micro : (b + 1) * micro]
            weight = 1.0 if len(idx) else 0.0
            idx = idx if len(idx) else order[:1]
            batch = dpo_batch(frame, idx, pad_id, packed)
            logps = engine(**model_inputs(batch))
            # The held-out loss is DPO's alone, so that runs with and without the NLL term compare.
            loss, stats = dpo_loss(logps[: len(idx)], logps[len(idx) :], batch["ref_chosen"], batch["ref_rejected"], beta)
            n = weight * len(idx)
            sums += torch.tensor([loss.item() * n, stats["rewards/accuracy"].item() * n, n], dtype=torch.float64)
    if world > 1:
        torch.distributed.all_reduce(sums)
    engine.train()
    return {"val/loss": (sums[0] / sums[2]).item(), "val/accuracy": (sums[1] / sums[2]).item()}
