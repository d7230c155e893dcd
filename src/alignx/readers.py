"""Reference readers: fixed rules, scored on the same pairs as the aligners, that say what a figure means.

Each reader returns a credit per pair: 1 when it prefers the chosen response, 0 the rejected one, 0.5 when it
cannot tell (a tie counts half, as a coin flip would). Vectors are in the record convention: a pair's direction
is 1 where chosen is more positive than rejected, 0 where more negative, 0.5 where they do not differ; a profile
is 1 / 0 / 0.5 for a positive / negative / neutral preference.

    tone            ignores WHICH dimensions: prefers the response whose balance of positive- and negative-pole
                    traits matches the balance of positive and negative labels in the profile. A world where it
                    scores well lets an aligner look personalized through a global tone alone.
    profile         a perfect reader of a profile: counts the profile's labels the chosen response agrees with
                    minus those it contradicts. With the profile PBA is shown, the ceiling PBA can reach; with
                    the user's true vector, what a reader of the user (not of the history) would get.
    marker_overlap  a surface matcher of texts: prefers the response sharing more of the synthetic world's
                    marker phrases with the persona text shown (ICA's history), whatever their meaning.

`credits` runs every reader on one loaded eval set (`eval_sets.load`); alignx.evaluation.metrics (`reader_summary`,
`evidence_split`) turns the credits and the aligner's per-pair correctness into the figures of the metrics document.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache

import numpy as np
import pandas as pd

from alignx import space
from alignx.world import banks

# Reader name -> what it reads (the report's legend). `tone` and `inferred_profile` use the profile the
# example shows (inferred from the history items shown); `tone_oracle` the pair's own direction.
READERS = {
    "tone": "tone of the profile shown: matches the balance of positive / negative labels, not which ones",
    "tone_oracle": "tone, given the pair's own direction as profile (an oracle): 1 unless the pair's signs balance",
    "inferred_profile": "perfect reader of the profile inferred from the history shown: what reading it can reach",
    "user_profile": "perfect reader of the user's true preference vector (data/personas/users.parquet)",
    "marker_overlap": "prefers the response sharing more marker phrases with the persona text shown (ICA)",
}
# Evidence of the history shown about a pair: the `inferred_profile` credit 1 / 0.5 / 0.
EVIDENCE = {"favours": 1.0, "silent": 0.5, "misleads": 0.0}


def _credit(score: np.ndarray) -> np.ndarray:
    """1 / 0 / 0.5 for a positive / negative / zero score."""
    return np.where(score > 0, 1.0, np.where(score < 0, 0.0, 0.5))


def _signs(vectors: np.ndarray) -> np.ndarray:
    """+1 / -1 / 0 for 1 / 0 / 0.5 entries (NaN rows, i.e. missing vectors, read as all neutral)."""
    v = np.nan_to_num(np.asarray(vectors, dtype=float), nan=0.5)
    return np.sign(v - 0.5)


def tone(direction: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """Credit of the tone reader on pairs `direction` (n, 90) with profiles `profile` (n, 90)."""
    pair_balance = _signs(direction).sum(axis=1)  # positive-pole traits of chosen minus those of rejected
    profile_balance = _signs(profile).sum(axis=1)
    return _credit(np.sign(pair_balance) * np.sign(profile_balance))


def profile(direction: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """Credit of a perfect reader of `profile` (n, 90) on pairs `direction` (n, 90)."""
    return _credit((_signs(direction) * _signs(profile)).sum(axis=1))


def vectors(column: Iterable[Sequence[float] | None]) -> np.ndarray:
    """A column of 90-vectors (None where missing) as an (n, 90) float array, NaN rows where missing."""
    # A left join leaves NaN (not None) where nothing matched.
    missing = lambda v: v is None or (isinstance(v, float) and np.isnan(v))  # noqa: E731
    rows = [np.full(space.N_DIMS, np.nan) if missing(v) else np.asarray(v, dtype=float) for v in column]
    return np.stack(rows) if rows else np.zeros((0, space.N_DIMS))


# --- marker phrases ---


@cache
def marker_phrases() -> dict[str, tuple[int, bool]]:
    """Every marker phrase of the synthetic world -> (dimension, positive pole): the STYLE phrases and the
    interest sentences with their topic words filled in (`banks.MARKERS`, what the realizer writes)."""
    phrases: dict[str, tuple[int, bool]] = {}
    for dim, (negative, positive) in enumerate(banks.MARKERS):
        for pole, bank in ((False, negative), (True, positive)):
            for phrase in bank:
                phrases.setdefault(phrase, (dim, pole))
    return phrases


@cache
def _marker_pattern() -> re.Pattern[str]:
    # Longest first, so a phrase that contains another is found whole.
    return re.compile("|".join(re.escape(p) for p in sorted(marker_phrases(), key=len, reverse=True)))


def markers(text: str) -> frozenset[tuple[int, bool]]:
    """The markers in `text`: the (dimension, pole) of every marker phrase it contains. A marker is a pole's
    bank, so two phrasings of one idea ("Sleep in and recharge properly." / "Take a nap, ...") are one marker."""
    phrases = marker_phrases()
    return frozenset(phrases[m.group(0)] for m in _marker_pattern().finditer(text))


def marker_overlap(persona_texts: Sequence[str], chosen: Sequence[str], rejected: Sequence[str]) -> np.ndarray:
    """Credit of the marker-overlap reader: prefers the response sharing more markers with the persona text.

    It reads surface phrases, not their sign: a marker shown in a history's less-preferred response counts
    like one in the user's own comment, which is what a model copying phrases from its context would do."""
    score = []
    for persona, good, bad in zip(persona_texts, chosen, rejected):
        shown = markers(persona)
        score.append(len(markers(good) & shown) - len(markers(bad) & shown))
    return _credit(np.asarray(score, dtype=float))


# --- the readers on one eval set ---


def credits(frame: pd.DataFrame, with_markers: bool) -> pd.DataFrame:
    """Per-pair credit of every reader on a loaded eval set (columns named as in READERS), NaN where a reader
    cannot judge the pair: no direction vector (a benchmark), no known user for `user_profile`.

    `frame` needs `direction`, `shown_profile` and `user_direction`; `with_markers` (ICA) adds `marker_overlap`
    from `prompt_text`, `chosen`, `rejected`. A null `shown_profile` (nothing inferable was shown) is an
    all-neutral profile: the reader of it ties."""
    direction, shown, user = (vectors(frame[c]) for c in ("direction", "shown_profile", "user_direction"))
    judged = ~np.isnan(direction).any(axis=1)
    known_user = judged & ~np.isnan(user).any(axis=1)
    out = pd.DataFrame(index=frame.index)
    out["tone"] = np.where(judged, tone(direction, shown), np.nan)
    out["tone_oracle"] = np.where(judged, tone(direction, direction), np.nan)
    out["inferred_profile"] = np.where(judged, profile(direction, shown), np.nan)
    out["user_profile"] = np.where(known_user, profile(direction, user), np.nan)
    if with_markers:
        out["marker_overlap"] = marker_overlap(frame["prompt_text"], frame["chosen"], frame["rejected"])
    return out
