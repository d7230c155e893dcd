"""The measurements of one aligner, as the experiments produce them and the report reads them."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class AlignerResults:
    """Everything evaluation measured for one aligner (fractions in [0, 1])."""

    aligner: str
    beta: float
    # eval set (test, novel, each benchmark) -> metrics.summarize(): aligner, baselines, best, gain, n
    sets: dict[str, dict]
    # test split per persona mode: mode, aligner, base_no_persona, base_persona, n
    by_mode: pd.DataFrame
    # aligner accuracy on test by history size: k (0-4), ugc, pair, n_ugc, n_pair
    robustness: pd.DataFrame
    speed: dict[str, float]
    # eval set -> metrics.reader_summary(): reader -> {"accuracy", "aligner" (on the same pairs), "n"}
    readers: dict[str, dict] = field(default_factory=dict)
    # eval set -> metrics.evidence_split(): favours / silent / misleads -> {"accuracy" (aligner), "n"}
    evidence: dict[str, dict] = field(default_factory=dict)
    # PBA: {"accuracy", "n", "labels_cut"} with the oracle profile (each pair's own judged direction)
    oracle: dict | None = None
    control: dict | None = None  # PBA: metrics.controllability() with its placebo
    control_dims: pd.DataFrame | None = None  # PBA: metrics.per_dimension()
    champion: dict = field(default_factory=dict)  # champion.update_champion()
