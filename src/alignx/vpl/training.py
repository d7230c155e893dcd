"""Training VPL on the train split's pairs: AdamW on the Bradley-Terry loss plus the KL of the user posterior to
N(0, I), its weight ramped up from 0 (VPL's annealing); each step shows every record a random subset (possibly
empty) of its PAIR items as context. The epoch kept is the best on val (accuracy with the contexts val examples show).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from alignx.config import VplConfig
from alignx.vpl.contexts import Indexed
from alignx.vpl.model import Shape, VPLNet, bradley_terry


@dataclass
class FitResult:
    """The kept network, the epoch kept, val accuracy per epoch and the loss curve (one point per epoch)."""

    net: VPLNet
    best_epoch: int
    val_accuracy: float
    curve: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def random_subsets(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per row, a uniformly sized random subset (0 to all) of the context items `mask` marks."""
    n, k = mask.shape
    available = mask.sum(1)
    keep = rng.integers(0, available + 1)
    keys = np.where(mask, rng.random((n, k)), np.inf)
    ranks = keys.argsort(1).argsort(1)
    return ranks < keep[:, None]


def gather(features: torch.Tensor, rows: Indexed, take: np.ndarray, mask: np.ndarray | None = None):
    """(chosen [B, D], rejected [B, D], context [B, K, 2, D], mask [B, K]) of rows `take`."""
    m = rows.mask[take] if mask is None else mask
    return (features[torch.from_numpy(rows.chosen[take])], features[torch.from_numpy(rows.rejected[take])],
            features[torch.from_numpy(rows.context[take])], torch.from_numpy(m))


def score(net: VPLNet, features: torch.Tensor, rows: Indexed, batch: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """VPL's rewards (chosen, rejected) of every row, z the posterior mean of the row's context."""
    net.eval()
    out_c, out_r = [], []
    with torch.no_grad():
        for start in range(0, len(rows.chosen), batch):
            take = np.arange(start, min(start + batch, len(rows.chosen)))
            c, r, _ = net(*gather(features, rows, take))
            out_c.append(c.numpy())
            out_r.append(r.numpy())
    if not out_c:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(out_c).astype(np.float64), np.concatenate(out_r).astype(np.float64)


def accuracy(net: VPLNet, features: torch.Tensor, rows: Indexed) -> float:
    """Share of rows whose chosen response gets the higher reward (a tie is not a preference)."""
    c, r = score(net, features, rows)
    return float((c > r).mean()) if len(c) else float("nan")


def fit(features: np.ndarray, train: Indexed, val: Indexed, cfg: VplConfig, progress: bool = True) -> FitResult:
    """A VPL network trained on `train` rows of the feature matrix `features`, the best epoch on `val` kept."""
    start = time.perf_counter()
    if len(train.chosen) == 0:
        raise ValueError("vpl: no train pairs to learn from")
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    feats = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
    net = VPLNet(Shape(int(feats.shape[1]), cfg.hidden, cfg.latent))
    used = np.unique(np.concatenate([train.chosen, train.rejected, train.context[train.mask].ravel()]))
    with torch.no_grad():
        net.feature_mean.copy_(feats[used].mean(0))
        net.feature_std.copy_(feats[used].std(0).clamp(min=1e-6))
    optim = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n = len(train.chosen)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    anneal = max(1, round(cfg.kl_anneal * cfg.epochs * steps_per_epoch))
    best, best_epoch, best_state, curve, step = -1.0, 0, None, [], 0
    for epoch in tqdm(range(1, cfg.epochs + 1), desc="VPL epochs", unit="epoch", disable=not progress):
        net.train()
        order = rng.permutation(n)
        totals = {"loss": 0.0, "bt": 0.0, "kl": 0.0}
        for b in range(0, n, cfg.batch_size):
            take = order[b:b + cfg.batch_size]
            chosen, rejected, context, mask = gather(feats, train, take, random_subsets(train.mask[take], rng))
            r_c, r_r, kl = net(chosen, rejected, context, mask, sample=True)
            bt, kl_mean = bradley_terry(r_c, r_r), kl.mean()
            weight = cfg.kl_weight * min(1.0, step / anneal)
            loss = bt + weight * kl_mean
            optim.zero_grad()
            loss.backward()
            optim.step()
            step += 1
            for key, value in (("loss", loss), ("bt", bt), ("kl", kl_mean)):
                totals[key] += float(value.detach()) * len(take) / n
        val_acc = accuracy(net, feats, val) if len(val.chosen) else float(epoch)
        curve.append({"epoch": epoch, **totals, "val_accuracy": val_acc})
        if val_acc > best:
            best, best_epoch, best_state = val_acc, epoch, copy.deepcopy(net.state_dict())
    net.load_state_dict(best_state)
    return FitResult(net.eval(), best_epoch, best, curve, time.perf_counter() - start)
