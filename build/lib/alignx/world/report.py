"""Metrics and the direction-histogram figure of a generated dataset."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: stages run under DVC and CI
import matplotlib.pyplot as plt
import numpy as np

from alignx import space
from alignx.world.pairs import ChunkStats


def metrics(stats: ChunkStats, prefix: str) -> dict[str, float]:
    """Counts, label balance, shortcut rates, Bayes-optimal accuracy and profile recovery of one split."""
    n = max(stats.records, 1)
    hist = stats.histogram
    nonneutral = hist[:, 0].sum() + hist[:, 2].sum()
    return {
        f"{prefix}.records": stats.records,
        f"{prefix}.users": stats.users,
        # Share of "chosen more positive" among the non-neutral entries of the records' direction vectors.
        f"{prefix}.label_balance": float(hist[:, 2].sum() / max(nonneutral, 1)),
        f"{prefix}.first_wins": stats.first_wins / n,
        f"{prefix}.longer_wins": stats.longer_wins / n,
        f"{prefix}.shorter_wins": stats.shorter_wins / n,
        # The tone reader (evaluation.readers.tone): ~0.5 when no overall tone tells chosen from rejected.
        f"{prefix}.tone_oracle": stats.tone_oracle / n,
        f"{prefix}.tone_user": stats.tone_user / max(stats.tone_user_records, 1),
        f"{prefix}.bayes_optimal_accuracy": stats.bayes_agree / n,
        f"{prefix}.utility_ties": stats.utility_ties / n,
        f"{prefix}.nonneutral_dims_per_record": float(nonneutral / n),
        # PBA's infer_profile over each user's first record's history vs the user's true vector.
        f"{prefix}.profile_recall": stats.recovery_hit / max(stats.recovery_true, 1),
        f"{prefix}.profile_precision": stats.recovery_correct / max(stats.recovery_inferred, 1),
        f"{prefix}.profile_agreement": stats.recovery_agree / max(stats.users * space.N_DIMS, 1),
    }


def histogram_figure(hist: np.ndarray, title: str):
    """Stacked bars per dimension: how often the records' direction is 0, 0.5 and 1."""
    fig, ax = plt.subplots(figsize=(16, 4))
    x = np.arange(space.N_DIMS)
    share = hist / np.maximum(hist.sum(axis=1, keepdims=True), 1)
    ax.bar(x, share[:, 0], color="tab:red", label="0 (chosen more negative)")
    ax.bar(x, share[:, 2], bottom=share[:, 0], color="tab:green", label="1 (chosen more positive)")
    ax.bar(x, share[:, 1], bottom=share[:, 0] + share[:, 2], color="lightgrey", label="0.5 (equal)")
    for group, part in space.GROUP_SLICES.items():
        ax.axvline(part.start - 0.5, color="black", lw=0.5)
        ax.text(part.start, 1.02, group, fontsize=7)
    ax.set(xlim=(-0.5, space.N_DIMS - 0.5), ylim=(0, 1.1), xlabel="dimension", ylabel="share of records", title=title)
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    return fig
