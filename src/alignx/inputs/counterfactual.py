"""Counterfactual profiles for PBA's train examples (params `format.counterfactual`).

PBA learns to prefer the response its profile favours. Trained only on the profiles the users have, it may instead
react to a label's polarity whatever the pair is about (the controllability probe: a label the pair is neutral on
flips the preference). Each counterfactual keeps the pair and changes the profile, so that only the profile's
meaning decides the target:

    neutral   one label flipped on a dimension the pair does not contrast (direction 0.5): chosen and rejected
              stay. The label it shows, if any, is flipped to the other pole; where the profile shows none on such
              a dimension, one is added at a random pole.
    contrast  labels of dimensions the pair contrasts set to the rejected response's side (the first drawn, then
              more in a random order) until the profile favours the rejected response: chosen and rejected swap,
              and the example's direction is the swapped pair's.

With `labels="flipped"` the counterfactual shows only the labels it changed (a neutral flip: the one label, so
that it says nothing about the pair; a contrast flip: one contrasted label on the rejected side), the single-label
profiles the controllability probe scores; `labels="profile"` (the default) shows the whole profile with the change.
With `poles` (single labels only) each of them is also written with its label at the other pole (kinds
`neutral_pole`, `contrast_pole`), the pair as that pole presents it: a neutral label's poles keep chosen and rejected,
a contrasted label's poles each present the response on the label's side as chosen. The two poles of one label are
the probe's two inputs; the consistency term (train.consistency.neutral_pole, contrast_pole) ties their margins
together.

"Favours" is the perfect profile reader's rule (`space.agreement`: the profile's labels the chosen response agrees
with minus those it contradicts; alignx.readers.profile applies it to eval sets). Vectors are
in the record convention: 1 / 0 / 0.5 (positive / negative / neutral); the pair's direction is 1 where chosen is
the more positive response.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alignx import space

NEUTRAL_FLIP, CONTRAST_FLIP = "neutral", "contrast"
# The other pole of a single-label counterfactual of each kind (format.counterfactual.poles).
POLE_OF = {NEUTRAL_FLIP: "neutral_pole", CONTRAST_FLIP: "contrast_pole"}
MIRRORS = {pole: made for made, pole in POLE_OF.items()}  # the kind each pole mirrors
KINDS = (NEUTRAL_FLIP, CONTRAST_FLIP, *POLE_OF.values())
LABELS = ("profile", "flipped")  # what a counterfactual shows: the whole profile with the change, or only the change
SEPARATOR = "~"  # a counterfactual's example_id is `<record_id>~<kind>`


def example_id(record_id: str, kind: str) -> str:
    """The example_id of a record's counterfactual of `kind`."""
    return f"{record_id}{SEPARATOR}{kind}"


def original_of(example_id: str) -> tuple[str, str]:
    """(the original example's id, the counterfactual's kind) of an example_id; (example_id, "") for an original
    (an id that does not end in `~<kind>` of KINDS)."""
    original, _, kind = example_id.rpartition(SEPARATOR)
    return (original, kind) if original and kind in KINDS else (example_id, "")


def partner_of(counterfactual_id: str) -> str:
    """The example id a counterfactual's margin is tied to (train.consistency): a pole's is the counterfactual
    it mirrors (the same label at the other pole), any other counterfactual's is its original."""
    original, kind = original_of(counterfactual_id)
    return example_id(original, MIRRORS[kind]) if kind in MIRRORS else original


@dataclass(frozen=True)
class Counterfactual:
    """One counterfactual of a train example: the profile it shows, the pair's direction as presented, and whether
    chosen and rejected are swapped."""

    kind: str
    profile: list[float]
    direction: list[float]
    swap: bool


def _only(changed: np.ndarray, dims: Sequence[int]) -> np.ndarray:
    """A profile showing only `dims` of `changed` (every other dimension neutral)."""
    out = np.full(space.N_DIMS, space.NEUTRAL)
    out[list(dims)] = changed[list(dims)]
    return out


def neutral_flip(
    direction: Sequence[float], profile: Sequence[float], rng: np.random.Generator, labels: str = "profile"
) -> Counterfactual | None:
    """`profile` with one label flipped on a dimension the pair does not contrast (a shown label preferred; else one
    added at a random pole), or only that label (`labels="flipped"`); None when the pair contrasts every dimension."""
    d, p = np.asarray(direction, dtype=float), np.asarray(profile, dtype=float)
    candidates = np.flatnonzero((d == space.NEUTRAL) & (p != space.NEUTRAL))
    if not len(candidates):
        candidates = np.flatnonzero(d == space.NEUTRAL)
    if not len(candidates):
        return None
    dim = int(rng.choice(candidates))
    out = p.copy()
    out[dim] = 1.0 - p[dim] if p[dim] != space.NEUTRAL else float(rng.choice([space.NEGATIVE, space.POSITIVE]))
    out = _only(out, [dim]) if labels == "flipped" else out
    return Counterfactual(NEUTRAL_FLIP, out.tolist(), d.tolist(), swap=False)


def contrast_flip(
    direction: Sequence[float], profile: Sequence[float], rng: np.random.Generator, labels: str = "profile"
) -> Counterfactual | None:
    """`profile` with contrasted dimensions set to the rejected side, in a random order, until it favours the
    rejected response (at least one changed), or only the first of them (`labels="flipped"`: that one label favours
    the rejected response); chosen and rejected swap. None when the pair contrasts nothing or every contrasted label
    already sits on the rejected side."""
    d, p = np.asarray(direction, dtype=float), np.asarray(profile, dtype=float)
    rejected_side = 1.0 - d
    order = rng.permutation(np.flatnonzero((d != space.NEUTRAL) & (p != rejected_side)))
    if not len(order):
        return None
    out = p.copy()
    for dim in order:
        out[dim] = rejected_side[dim]
        if labels == "flipped":
            out = _only(out, [dim])
            break
        if space.agreement(d, out) < 0:
            break
    swapped = np.where(d == space.NEUTRAL, space.NEUTRAL, 1.0 - d)
    return Counterfactual(CONTRAST_FLIP, out.tolist(), swapped.tolist(), swap=True)


def other_pole(direction: Sequence[float], made: Counterfactual) -> Counterfactual:
    """A single-label counterfactual's label at the other pole, the pair as that label presents it: swapped when
    the label sits on the rejected response's side of a dimension the pair contrasts."""
    d, p = np.asarray(direction, dtype=float), np.asarray(made.profile, dtype=float)
    shown = np.flatnonzero(p != space.NEUTRAL)
    if len(shown) != 1:
        raise ValueError(f"other_pole: a {made.kind} counterfactual shows {len(shown)} labels, not one")
    dim = int(shown[0])
    out = _only(1.0 - p, [dim])
    swap = bool(d[dim] != space.NEUTRAL and out[dim] != d[dim])
    presented = np.where(d == space.NEUTRAL, space.NEUTRAL, 1.0 - d) if swap else d
    return Counterfactual(POLE_OF[made.kind], out.tolist(), presented.tolist(), swap)


def draw(
    direction: Sequence[float], profile: Sequence[float], shares: dict[str, float], rng: np.random.Generator,
    labels: str = "profile", poles: bool = False,
) -> list[Counterfactual]:
    """The counterfactuals of one train example: each kind with probability `shares[kind]` (one uniform draw per
    kind, in order, so a record's draws do not depend on other records or on the other kind's share), each
    followed by its other pole when `poles` (single labels only: `labels="flipped"`)."""
    if poles and labels != "flipped":
        raise ValueError("counterfactual poles need single-label counterfactuals (labels='flipped')")
    makers = {NEUTRAL_FLIP: neutral_flip, CONTRAST_FLIP: contrast_flip}
    out = []
    for kind, make in makers.items():
        if rng.random() < shares.get(kind, 0.0):
            made = make(direction, profile, rng, labels)
            if made is not None:
                out += [made, other_pole(direction, made)] if poles else [made]
    return out
