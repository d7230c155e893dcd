"""The judge with known ground truth: a response read back into its 90 per-dimension intensities.

The synthetic world writes every response from an intensity vector (`alignx.world.realizer`): each non-zero
dimension contributes ONE marker phrase of its pole (`alignx.world.banks.MARKERS`), the framing sentences
(opener "About {w}:", closer, detail sentences) carry no preference except for the length dimension 16
(`realizer.LENGTH_DIM`): its concise pole (+1) drops opener and closer, its detailed pole (-1) adds two detail
sentences. Every phrase of the banks is distinct and none is a prefix of another, so the banks invert into
phrase -> (dimension, pole) and a response parses greedily, sentence by sentence:

    read = read_response(text)          # Reading: intensity (int8[90]), sentences, unknown characters
    utility(read.intensity, user_direction)        # sum_d pref_d * intensity_d, pref {1: +1, 0: -1, 0.5: 0}
    compare(u_a, u_b)                   # 1 (a wins), 0.5 (tie), 0 (b wins)

Reading rules (exact on realizer output, tests/unit/test_generation_judge.py):
* a marker phrase sets its dimension to its pole; a dimension with markers of both poles reads as the sign of
  (positive - negative) marker count and is reported as a `conflict`;
* dimension 16 is the sign of (its marker's pole + the framing's pole), the framing's pole being -1 when a
  detail sentence appears, +1 when neither an opener nor a closer appears, else 0;
* text that is no known sentence is skipped word by word and counted in `unknown_chars`.

A response is **well-formed** when it ended with EOS within the token budget (the decoder says so), is not
empty, every character belongs to a known sentence (`unknown_chars == 0`), and no dimension shows both poles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from alignx import space
from alignx.world import banks, realizer

LENGTH_DIM = realizer.LENGTH_DIM
# Sentence kinds besides markers (their `dim` is -1).
OPENER, CLOSER, DETAIL = "opener", "closer", "detail"


@dataclass(frozen=True)
class Sentence:
    """One known sentence: a marker of (dim, pole) or a framing sentence (dim -1, pole 0)."""

    text: str
    kind: str  # marker | opener | closer | detail
    dim: int = -1
    pole: int = 0


@dataclass
class Reading:
    """What a response says: per-dimension intensities and how well the text parsed."""

    intensity: np.ndarray  # int8[90] in {-1, 0, +1}
    sentences: list[Sentence] = field(default_factory=list)
    unknown_chars: int = 0
    conflicts: int = 0  # dimensions shown at both poles

    @property
    def parses(self) -> bool:
        """Every character is a known sentence, at least one sentence, no dimension at both poles."""
        return bool(self.sentences) and self.unknown_chars == 0 and self.conflicts == 0


@lru_cache(maxsize=1)
def sentence_index() -> dict[str, tuple[Sentence, ...]]:
    """Every known sentence, keyed by its first word (longest first), built once from the world's banks."""
    known: list[Sentence] = []
    for dim, (negative, positive) in enumerate(banks.MARKERS):
        known += [Sentence(t, "marker", dim, -1) for t in negative]
        known += [Sentence(t, "marker", dim, +1) for t in positive]
    words = sorted({w for name in banks.INTEREST_NAMES for w in banks.TOPICS[name]})
    known += [Sentence(t.format(w=w), OPENER) for t in banks.OPENERS for w in words]
    known += [Sentence(t, CLOSER) for t in banks.CLOSERS]
    known += [Sentence(t, DETAIL) for t in banks.DETAILS]
    index: dict[str, list[Sentence]] = {}
    for s in known:
        index.setdefault(s.text.split(" ", 1)[0], []).append(s)
    return {k: tuple(sorted(v, key=lambda s: -len(s.text))) for k, v in index.items()}


def read_response(text: str) -> Reading:
    """The intensities a response expresses (the module docstring's rules)."""
    index = sentence_index()
    found: list[Sentence] = []
    unknown, pos, n = 0, 0, len(text)
    while pos < n:
        if text[pos].isspace():
            pos += 1
            continue
        end = text.find(" ", pos)
        word = text[pos : n if end < 0 else end]
        match = next((s for s in index.get(word, ()) if text.startswith(s.text, pos)), None)
        if match is None:  # not a known sentence: skip one word
            skip = len(word)
            unknown += skip
            pos += skip
            continue
        found.append(match)
        pos += len(match.text)
    counts = np.zeros((space.N_DIMS, 2), dtype=np.int32)  # [:, 0] negative, [:, 1] positive markers
    for s in found:
        if s.kind == "marker":
            counts[s.dim, int(s.pole > 0)] += 1
    intensity = np.sign(counts[:, 1] - counts[:, 0]).astype(np.int8)
    conflicts = int(((counts[:, 0] > 0) & (counts[:, 1] > 0)).sum())
    kinds = {s.kind for s in found}
    framing = -1 if DETAIL in kinds else (1 if not ({OPENER, CLOSER} & kinds) and found else 0)
    intensity[LENGTH_DIM] = np.sign(int(np.sign(counts[LENGTH_DIM, 1] - counts[LENGTH_DIM, 0])) + framing)
    return Reading(intensity, found, unknown, conflicts)


def preference(direction: Sequence[float]) -> np.ndarray:
    """A direction vector (1 positive, 0 negative, 0.5 indifferent) as preference weights +1 / -1 / 0."""
    values = np.asarray(space.validate_direction(direction, where="user direction"), dtype=float)
    return np.sign(values - 0.5).astype(np.int8)


def utility(intensity: np.ndarray, direction: Sequence[float]) -> int:
    """How well a response fits a user: sum over dimensions of the user's preference x the response's intensity
    (the world's own utility, `alignx.world.pairs.sample_pairs`)."""
    return int((preference(direction).astype(np.int32) * np.asarray(intensity, dtype=np.int32)).sum())


def compare(u_a: float, u_b: float) -> float:
    """1 when response a fits better, 0.5 on a tie, 0 when b fits better."""
    return 1.0 if u_a > u_b else (0.5 if u_a == u_b else 0.0)
