"""Bootstrap intervals of evaluation figures, resampled by cluster (pure numpy, seeded).

Records of one user are correlated (the same persona, the same preference vector), so a figure's uncertainty comes
from resampling whole clusters (users) with replacement, never single records: a cluster bootstrap. A figure is a
pooled share `sum(values) / n` over the records of the drawn clusters (a cluster drawn twice counts twice).

    interval   percentile interval of a share (accuracy, reader credit, flip rate)
    paired     percentile interval of a difference of two shares on the same records (a gain over a baseline), and
               its two-sided p-value, both from the same cluster resamples

Every figure of one call draws from `numpy.random.default_rng(seed)`: with the same clusters, every figure of an
eval set sees the same resamples, so the intervals of the aligner, of a baseline and of their gain agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# The column of a per-pair table holding each record's resampling unit (`eval_sets.clusters`).
CLUSTER = "cluster"
# Suffixes of the keys written beside a figure `<key>`: `<key>_ci_low`, `<key>_ci_high`, `<key>_p_value`.
LOW, HIGH, P_VALUE = "_ci_low", "_ci_high", "_p_value"


@dataclass(frozen=True)
class Bootstrap:
    """Cluster bootstrap settings: `resamples` draws, a `level` two-sided interval, numpy seed `seed`."""

    resamples: int = 1000
    level: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if self.resamples < 1:
            raise ValueError(f"bootstrap resamples must be >= 1, got {self.resamples}")
        if not 0 < self.level < 1:
            raise ValueError(f"bootstrap level must be in (0, 1), got {self.level}")

    def _draws(self, n_clusters: int) -> np.ndarray:
        """(resamples, n_clusters) times each cluster is drawn: n_clusters draws with replacement per resample."""
        rng = np.random.default_rng(self.seed)
        return rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=self.resamples)

    def _resampled(self, values: np.ndarray, clusters: Sequence[Any]) -> np.ndarray:
        """The share of `values` in every resample (one float per resample)."""
        codes = _codes(clusters)
        sums, sizes = np.bincount(codes, weights=values), np.bincount(codes).astype(float)
        draws = self._draws(len(sizes))
        return (draws @ sums) / (draws @ sizes)

    def _bounds(self, stats: np.ndarray) -> tuple[float, float]:
        tail = (1 - self.level) / 2
        low, high = np.quantile(stats, [tail, 1 - tail])
        return float(low), float(high)

    def interval(self, values: Any, clusters: Sequence[Any]) -> tuple[float, float]:
        """Percentile interval of the share of `values` (1/0 correct, or credits in [0, 1]), resampling the
        `clusters` (one id per value); (nan, nan) when there is no value."""
        values = _floats(values, clusters)
        if not len(values):
            return float("nan"), float("nan")
        return self._bounds(self._resampled(values, clusters))

    def paired(self, a: Any, b: Any, clusters: Sequence[Any]) -> tuple[float, float, float]:
        """(low, high, p_value) of share(a) - share(b) on the same records (paired: each resample draws the same
        clusters for both).

        The interval is the percentile interval of the resampled differences d*. The p-value is two-sided, for
        the null "no difference", from the same resamples centred on the observed difference d (Davison &
        Hinkley 1997, sec. 4.4): p = (1 + #{|d* - d| >= |d|}) / (resamples + 1); 1 when d = 0, at least
        1 / (resamples + 1). (nan, nan, nan) when there is no record."""
        a, b = _floats(a, clusters), _floats(b, clusters)
        if len(a) != len(b):
            raise ValueError(f"paired bootstrap: {len(a)} and {len(b)} values differ in length")
        if not len(a):
            return float("nan"), float("nan"), float("nan")
        diff = a - b
        stats = self._resampled(diff, clusters)
        observed = float(diff.mean())
        extreme = int(np.sum(np.abs(stats - observed) >= abs(observed) - 1e-12))
        low, high = self._bounds(stats)
        return low, high, (1 + extreme) / (self.resamples + 1)


def _codes(clusters: Sequence[Any]) -> np.ndarray:
    """Cluster ids as 0..G-1 in order of first appearance (so resamples depend on the records' order only)."""
    _, first, inverse = np.unique(np.asarray(clusters, dtype=object).astype(str), return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=int)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse.ravel()]


def _floats(values: Any, clusters: Sequence[Any]) -> np.ndarray:
    out = np.asarray(values, dtype=float)
    if out.ndim != 1 or len(out) != len(clusters):
        raise ValueError(f"bootstrap: {out.shape} values for {len(clusters)} cluster ids")
    if np.isnan(out).any():
        raise ValueError("bootstrap: values hold NaN (leave unmeasured records out first)")
    return out


def add_interval(out: dict, key: str, values: Any, clusters: Sequence[Any], boot: Bootstrap) -> dict:
    """`out[key + "_ci_low"]`, `out[key + "_ci_high"]`: the interval of the share `out[key]` (in place)."""
    out[key + LOW], out[key + HIGH] = boot.interval(values, clusters)
    return out


def add_paired(out: dict, key: str, a: Any, b: Any, clusters: Sequence[Any], boot: Bootstrap) -> dict:
    """`out[key + "_ci_low"]`, `out[key + "_ci_high"]`, `out[key + "_p_value"]`: the paired interval and p-value
    of the difference `out[key]` = share(a) - share(b) (in place)."""
    out[key + LOW], out[key + HIGH], out[key + P_VALUE] = boot.paired(a, b, clusters)
    return out


def bounds(summary: dict, key: str) -> tuple[float, float] | None:
    """The interval stored beside `summary[key]`, or None when it has none (or it was not measured)."""
    low, high = summary.get(key + LOW), summary.get(key + HIGH)
    if low is None or high is None or np.isnan(low) or np.isnan(high):
        return None
    return float(low), float(high)
