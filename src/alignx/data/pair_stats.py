"""The `pairs` stage's statistics of its records: label balance, length / order / tone shortcuts, the Bayes-optimal
accuracy, and how well PBA's profile inference (with the `space` params' thresholds) recovers each user's true
vector; summed over chunks, then turned into the stage's metrics and direction histogram.

Imported records have no ground truth (utility, generation order, users' vectors): `table_stats` measures what
the records themselves show.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from alignx import readers, space
from alignx.contracts import DIRECTION
from alignx.world.pairs import Chunk


@dataclass
class ChunkStats:
    """What one chunk contributes to the stage's metrics (summed over chunks)."""

    records: int = 0
    first_wins: int = 0
    longer_wins: int = 0
    shorter_wins: int = 0
    bayes_agree: float = 0.0
    utility_ties: int = 0
    users: int = 0
    recovery_true: int = 0  # user's non-neutral dims
    recovery_hit: int = 0  # ... recovered with the right pole by infer_profile
    recovery_inferred: int = 0  # non-neutral dims of the inferred profiles
    recovery_correct: int = 0  # ... matching the user's pole
    recovery_agree: int = 0  # all dims (90 per user) where inferred == true
    tone_oracle: float = 0.0  # summed credit of the tone reader given the pair's own direction (alignx.readers)
    tone_user: float = 0.0  # ... given the user's true vector
    tone_user_records: int = 0  # records the user's vector was known for
    histogram: np.ndarray = field(default_factory=lambda: np.zeros((space.N_DIMS, 3), dtype=np.int64))

    def add(self, other: "ChunkStats") -> None:
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)


def chunk_stats(chunk: Chunk) -> ChunkStats:
    """Label balance, shortcut, tone and Bayes figures of a generated chunk's records."""
    pr, chosen, rejected, user_vectors = chunk.draws, chunk.chosen, chunk.rejected, chunk.user_vectors
    chosen_len = np.fromiter(map(len, chosen), dtype=np.int64, count=len(chosen))
    rejected_len = np.fromiter(map(len, rejected), dtype=np.int64, count=len(rejected))
    direction = pr["direction"]
    histogram = np.stack([(direction == v).sum(axis=0) for v in space.VALUES], axis=1)
    return ChunkStats(
        records=len(chosen),
        first_wins=int(pr["chosen_a"].sum()),
        longer_wins=int((chosen_len > rejected_len).sum()),
        shorter_wins=int((chosen_len < rejected_len).sum()),
        bayes_agree=float(pr["agree"].sum()),
        utility_ties=pr["ties"],
        histogram=histogram,
        tone_oracle=float(readers.tone(direction, direction).sum()),
        tone_user=float(readers.tone(direction, user_vectors).sum()),
        tone_user_records=len(chosen),
    )


def profile_recovery(directions: np.ndarray, history: np.ndarray, thresholds: tuple[float, float]) -> ChunkStats:
    """How well PBA's `infer_profile` (with `thresholds`, params `space`) over each user's shown history recovers
    the user's true vector."""
    stats = ChunkStats(users=len(directions))
    for truth, items in zip(directions, history):
        shown = items[~np.isnan(items[:, 0])]
        inferred = np.array(space.infer_profile(shown.tolist(), *thresholds), dtype=np.float32)
        true_on, inferred_on = truth != 0.5, inferred != 0.5
        stats.recovery_true += int(true_on.sum())
        stats.recovery_hit += int((true_on & (inferred == truth)).sum())
        stats.recovery_inferred += int(inferred_on.sum())
        stats.recovery_correct += int((inferred_on & (inferred == truth)).sum())
        stats.recovery_agree += int((inferred == truth).sum())
    return stats


def table_stats(table: pa.Table) -> ChunkStats:
    """Length shortcuts and direction histogram of imported records (no ground truth for the rest)."""
    chosen = pc.utf8_length(table.column("chosen")).to_numpy()
    rejected = pc.utf8_length(table.column("rejected")).to_numpy()
    direction = table.column(DIRECTION).combine_chunks().flatten().to_numpy().reshape(-1, space.N_DIMS)
    return ChunkStats(
        records=table.num_rows,
        longer_wins=int((chosen > rejected).sum()),
        shorter_wins=int((chosen < rejected).sum()),
        histogram=np.stack([(direction == v).sum(axis=0) for v in space.VALUES], axis=1),
        tone_oracle=float(readers.tone(direction, direction).sum()),
    )


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
        # The tone reader (alignx.readers.tone): ~0.5 when no overall tone tells chosen from rejected.
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
    from alignx.pipeline.tracking import pyplot  # the stage draws it; chunk workers import this module too

    plt = pyplot()
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
