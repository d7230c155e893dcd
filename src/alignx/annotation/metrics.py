"""Annotator quality: per-dimension macro-F1 over {negative, neutral, positive}, by group, and accuracy on the
entries whose true direction is not neutral."""

from __future__ import annotations

import numpy as np

from alignx import space

CLASSES = (0, 1, 2)  # negative, neutral, positive (features.labels)


def dimension_f1(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Macro-F1 of each dimension (columns of (n, 90) class arrays) over the classes present in its truth or
    its predictions (a class neither has would count as a free 1 or an undeserved 0: it is left out)."""
    scores = np.zeros(truth.shape[1])
    for d in range(truth.shape[1]):
        f1s = []
        for c in CLASSES:
            t, p = truth[:, d] == c, pred[:, d] == c
            if not (t.any() or p.any()):
                continue
            tp = float((t & p).sum())
            f1s.append(2 * tp / (t.sum() + p.sum()))
        scores[d] = np.mean(f1s) if f1s else 1.0
    return scores


def summary(truth: np.ndarray, pred: np.ndarray) -> dict:
    """`macro_f1` (overall and per group of dimensions, the mean of the dimensions' macro-F1), the accuracy on
    non-neutral truth entries, the exact-vector rate, and the counts."""
    per_dim = dimension_f1(truth, pred)
    non_neutral = truth != 1
    return {
        "macro_f1": {"overall": round(float(per_dim.mean()), 4),
                     **{g: round(float(per_dim[s].mean()), 4) for g, s in space.GROUP_SLICES.items()}},
        "non_neutral_accuracy": round(float((pred[non_neutral] == truth[non_neutral]).mean()), 4) if non_neutral.any() else None,
        "exact_items": round(float((pred == truth).all(axis=1).mean()), 4) if len(truth) else None,
        "n_items": int(len(truth)),
        "n_non_neutral": int(non_neutral.sum()),
    }
