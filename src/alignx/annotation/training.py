"""Training the annotator on labelled train-split items; the epoch kept is the best on val items (macro-F1)."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from alignx.annotation import metrics
from alignx.annotation.features import Vocabulary, labels, train_texts
from alignx.annotation.model import Annotator, DirectionNet
from alignx.config import DirectionsConfig


@dataclass
class FitResult:
    """The kept annotator, its val figures, the epoch kept and the per-epoch val macro-F1."""

    annotator: Annotator
    val: dict
    best_epoch: int
    curve: list[float] = field(default_factory=list)
    seconds: float = 0.0


def labelled(items: pd.DataFrame) -> pd.DataFrame:
    """Items that carry a direction vector."""
    return items[items["direction"].notna()].reset_index(drop=True)


def fit(train: pd.DataFrame, val: pd.DataFrame, cfg: DirectionsConfig) -> FitResult:
    """An annotator trained on the labelled `train` items (AdamW, cross-entropy averaged over dimensions),
    evaluated on the labelled `val` items after each epoch; the best epoch's weights are kept."""
    start = time.perf_counter()
    train, val = labelled(train), labelled(val)
    if train.empty:
        raise ValueError("directions: no labelled train history items to learn from")
    torch.manual_seed(cfg.seed)
    vocab = Vocabulary.learn(train_texts(train), cfg.max_features, cfg.min_count, cfg.max_words, cfg.order)
    net = DirectionNet(len(vocab), cfg.hidden)
    annotator = Annotator(vocab, net)
    ids, weights, offsets, kinds = vocab.encode(train)
    y = torch.from_numpy(labels(train))
    bounds = np.append(offsets, len(ids))
    optim = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng(cfg.seed)
    val_y = labels(val) if len(val) else None
    best, best_epoch, best_state, curve = -1.0, 0, None, []
    for epoch in tqdm(range(1, cfg.epochs + 1), desc="annotator epochs", unit="epoch"):
        net.train()
        order = rng.permutation(len(train))
        for b in range(0, len(order), cfg.batch_size):
            rows = order[b:b + cfg.batch_size]
            spans = [np.arange(bounds[r], bounds[r + 1]) for r in rows]
            take = np.concatenate(spans) if spans else np.zeros(0, dtype=np.int64)
            batch_offsets = np.concatenate([[0], np.cumsum([len(s) for s in spans])[:-1]])
            logits = net(torch.from_numpy(ids[take]), torch.from_numpy(weights[take]),
                         torch.from_numpy(batch_offsets.astype(np.int64)), torch.from_numpy(kinds[rows]))
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 3), y[rows].reshape(-1))
            optim.zero_grad()
            loss.backward()
            optim.step()
        score = metrics.summary(val_y, annotator.classes(val))["macro_f1"]["overall"] if val_y is not None else float(epoch)
        curve.append(score)
        if score > best:
            best, best_epoch, best_state = score, epoch, copy.deepcopy(net.state_dict())
    net.load_state_dict(best_state)
    val_figures = metrics.summary(val_y, annotator.classes(val)) if val_y is not None else {}
    annotator.trained = {"train_items": len(train), "val_items": len(val), "best_epoch": best_epoch,
                         "val_macro_f1": val_figures.get("macro_f1", {}).get("overall")}
    return FitResult(annotator, val_figures, best_epoch, curve, time.perf_counter() - start)
