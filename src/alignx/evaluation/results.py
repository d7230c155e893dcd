"""The measurements of one aligner, as the experiments produce them and the report reads them."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class AlignerResults:
    """Everything evaluation measured for one aligner (fractions in [0, 1])."""

    aligner: str
    beta: float
    # eval set (test, novel, each benchmark) -> metrics.summarize(): aligner, baselines, best, gain, n, their
    # intervals (`<figure>_ci_low/_ci_high`, gains' `_p_value`) and `ci_unit` (user, profile or record)
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
    # test split per persona mode -> metrics.summarize() on that mode's pairs (the intervals of `by_mode`)
    mode_sets: dict[str, dict] = field(default_factory=dict)
    # the cluster bootstrap behind every interval: {"level", "resamples"} (None: no intervals measured)
    bootstrap: dict | None = None
    # PBA: eval set -> reference_variant.summary() (the reference scored on the ICA prompt, parity only)
    reference_variant: dict[str, dict] | None = None
