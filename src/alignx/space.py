"""The 90-dimension preference space of AlignX, and profiles over it.

A direction vector has one value per dimension: 1 (the positive label applies), 0 (the negative label
applies) or 0.5 (neutral). The labels are the paper's release verbatim: PBA prompts and the P-Soups
`profile` field are written in them, so a changed character is a changed prompt.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

POSITIVE, NEGATIVE, NEUTRAL = 1.0, 0.0, 0.5
VALUES = (NEGATIVE, NEUTRAL, POSITIVE)

# Groups in index order; their sizes (7/21/12/7/43) are the paper's.
GROUPS: tuple[tuple[str, int], ...] = (
    ("demographics_and_big_five", 7),
    ("core_psychological_needs", 21),
    ("work_and_lifestyle", 12),
    ("response_quality", 7),
    ("interests", 43),
)

# (descriptive name, positive label, negative label), index order.
_TABLE: tuple[tuple[str, str, str], ...] = (
    ("age", "Young", "Older"),
    ("gender", "Female", "Male"),
    ("neuroticism", "High Neuroticism", "Low Neuroticism"),
    ("extraversion", "High Extraversion", "Low Extraversion"),
    ("openness", "High Openness", "Low Openness"),
    ("agreeableness", "High Agreeableness", "Low Agreeableness"),
    ("conscientiousness", "High Conscientiousness", "Low Conscientiousness"),
    ("food", "Likes a certain food", "Dislikes a certain food"),
    ("living_environment", "Likes a certain living environment", "Dislikes a certain living environment"),
    ("sleep", "Likes sleep", "Dislikes sleep"),
    ("investment", "Aggressive investment", "Conservative investment"),
    ("saving", "Good at saving", "Bad at saving"),
    ("physical_safety", "Concerned about physical safety", "Not concerned about physical safety"),
    ("environmental_safety", "Concerned about environmental safety", "Not concerned about environmental safety"),
    (
        "interaction_depth",
        "Prefers superficial interaction (casual, stress-free chat)",
        "Prefers deep interaction (discussing interests, emotional topics, etc.)",
    ),
    (
        "conflict_style",
        "Prefers direct communication to handle conflict",
        "Prefers avoidance, mediation, compromise to handle conflict",
    ),
    ("communication_length", "Concise communication style", "Detailed communication style"),
    ("work_environment", "Strong need for a certain work environment", "Indifferent to work environment needs"),
    ("recognition", "Strong need for recognition from others", "Indifferent to recognition from others"),
    ("achievement", "Strong need for personal achievement", "Indifferent to personal achievement"),
    ("knowledge_area", "Likes a certain area of knowledge", "Dislikes a certain area of knowledge"),
    ("learning_style", "Likes a certain learning style", "Dislikes a certain learning style"),
    (
        "creative_expression",
        "Likes a certain form of creative expression (e.g., art, writing, music)",
        "Dislikes a certain form of creative expression (e.g., art, writing, music)",
    ),
    ("order", "Strong need for Order (neatness, organization, avoiding chaos)", "Indifferent to orderliness"),
    (
        "retention",
        "Strong need for Retention (holding onto objects, unwilling to lose or change)",
        "Indifferent to retention (unconcerned about keeping objects)",
    ),
    (
        "inviolacy",
        "Strong need for Inviolacy (maintaining dignity and reputation)",
        "Indifferent to inviolacy (unconcerned with dignity or reputation)",
    ),
    (
        "infavoidance",
        "Strong need for Infavoidance (avoiding failure and embarrassment)",
        "Indifferent to Infavoidance (unconcerned with failure or embarrassment)",
    ),
    (
        "counteraction",
        "Strong need for Counteraction (overcoming failure and obstacles)",
        "Indifferent to Counteraction (unconcerned with failure)",
    ),
    (
        "seclusion",
        "Strong need for Seclusion (desire for isolation from others)",
        "Indifferent to Seclusion (does not care about isolation)",
    ),
    (
        "dominance",
        "Strong need for Dominance (controlling others through command or persuasion)",
        "Indifferent to Dominance (does not care about control)",
    ),
    (
        "deference",
        "Strong need for Deference (following authority or rules)",
        "Indifferent to Deference (does not care about authority)",
    ),
    (
        "autonomy",
        "Strong need for Autonomy (pursuing independence and self-reliance)",
        "Indifferent to Autonomy (does not care about independence)",
    ),
    (
        "contrariance",
        "Strong need for Contrariance (pursuing uniqueness, opposing the norm)",
        "Indifferent to Contrariance (does not seek uniqueness)",
    ),
    (
        "abasement",
        "Strong need for Abasement (accepting blame, enjoying pain or misfortune)",
        "Indifferent to Abasement (does not accept blame or enjoy misfortune)",
    ),
    (
        "aggression",
        "Strong need for Aggression (controlling others through forceful means)",
        "Indifferent to Aggression (does not engage in aggression)",
    ),
    (
        "affiliation",
        "Strong need for Affiliation (desiring close relationships)",
        "Indifferent to Affiliation (does not care about close relationships)",
    ),
    (
        "rejection",
        "Strong need for Rejection (isolating oneself from negatively evaluated people)",
        "Indifferent to Rejection (does not care about social exclusion)",
    ),
    (
        "nurturance",
        "Strong need for Nurturance (caring for others, protecting them from danger)",
        "Indifferent to Nurturance (does not care about nurturing others)",
    ),
    (
        "succorance",
        "Strong need for Succorance (desiring help, love, and comfort from others)",
        "Indifferent to Succorance (does not rely on others for comfort)",
    ),
    (
        "play",
        "Strong need for Play (enjoying fun, relaxation, and laughter)",
        "Indifferent to Play (does not prioritize fun or relaxation)",
    ),
    ("harmlessness", "Concerned about harmlessness", "Indifferent about harmlessness"),
    ("instruction_following", "Concerned about instruction-following", "Indifferent about instruction-following"),
    ("honesty", "Concerned about honesty", "Indifferent about honesty"),
    ("truthfulness", "Concerned about truthfulness", "Indifferent about truthfulness"),
    ("helpfulness", "Concerned about helpfulness", "Indifferent about helpfulness"),
    ("coherence", "Concerned about coherence", "Indifferent about coherence"),
    ("complexity", "Concerned about complexity", "Indifferent about complexity"),
) + tuple(
    (topic.replace(" ", "_"), f"Likes {topic}", f"Dislikes {topic}")
    for topic in (
        "science", "knowledge", "psychology", "cinema", "entertainment", "gaming", "parenting",
        "wild imagination", "anime", "sports", "law", "workplace", "pets", "travel", "health", "stories",
        "cars", "gourmet food", "education", "current events", "home decor", "international", "finance",
        "campus life", "digital technology", "emotions", "humor", "music", "reading", "painting", "dance",
        "crafts", "photography", "culture", "fitness", "art", "stationery and planners", "celebrities",
        "outdoors", "camping", "social sciences", "weddings", "fashion",
    )  # fmt: skip
)


@dataclass(frozen=True)
class Dimension:
    """One preference dimension."""

    index: int
    group: str
    name: str
    positive: str
    negative: str


def _build() -> tuple[Dimension, ...]:
    groups = [group for group, size in GROUPS for _ in range(size)]
    return tuple(Dimension(i, groups[i], *row) for i, row in enumerate(_TABLE))


DIMENSIONS: tuple[Dimension, ...] = _build()
N_DIMS = len(DIMENSIONS)
assert N_DIMS == 90 == sum(size for _, size in GROUPS)

# The group's slice of the index range, e.g. GROUP_SLICES["interests"] == slice(47, 90).
GROUP_SLICES: dict[str, slice] = {}
_start = 0
for _group, _size in GROUPS:
    GROUP_SLICES[_group] = slice(_start, _start + _size)
    _start += _size


class DirectionError(ValueError):
    """A direction vector or a history of them is malformed."""


def validate_direction(vector: Sequence[float], where: str = "direction") -> list[float]:
    """Return `vector` as floats, or raise DirectionError naming the problem and the offending index."""
    try:
        values = [float(v) for v in vector]
    except (TypeError, ValueError) as exc:
        raise DirectionError(f"{where}: not a sequence of numbers ({exc})") from None
    if len(values) != N_DIMS:
        raise DirectionError(f"{where}: has {len(values)} values, expected {N_DIMS}")
    for i, v in enumerate(values):
        if math.isnan(v):
            raise DirectionError(f"{where}: NaN at index {i} ({DIMENSIONS[i].name})")
        if v not in VALUES:
            raise DirectionError(f"{where}: value {v!r} at index {i} ({DIMENSIONS[i].name}) is not one of 0, 0.5, 1")
    return values


def agreement(direction: Sequence[float], profile: Sequence[float]) -> int:
    """How far a profile favours a pair's chosen response: the profile's labels the chosen response agrees with
    minus those it contradicts (> 0 chosen, < 0 rejected, 0 neither). `direction` is the pair's (1 where chosen is
    the more positive response); the perfect profile reader (alignx.readers.profile) is this rule over many pairs."""
    sign = lambda v: (v > NEUTRAL) - (v < NEUTRAL)  # noqa: E731
    return sum(sign(float(d)) * sign(float(p)) for d, p in zip(direction, profile, strict=True))


def verbalize(vector: Sequence[float]) -> str:
    """The profile text of a direction vector: the labels of its non-neutral dimensions, in index order."""
    values = validate_direction(vector)
    labels = [
        dim.positive if v == POSITIVE else dim.negative for dim, v in zip(DIMENSIONS, values) if v != NEUTRAL
    ]
    return ", ".join(labels)


def infer_profile(
    history: Iterable[Sequence[float]],
    positive_threshold: float,
    negative_threshold: float,
) -> list[float]:
    """PBA's profile from the direction vectors of the history items shown.

    The mean per dimension is positive at >= `positive_threshold`, negative at <= `negative_threshold` (params
    `space`, alignx.config.SpaceConfig: their one home), neutral in between. When nothing
    crosses a threshold, the single most extreme dimension(s) (largest |mean - 0.5|, ties all kept) take
    the side they lean to, so a non-empty history always yields a non-empty profile; if every mean is
    exactly 0.5 the profile stays neutral (there is nothing to infer).
    """
    vectors = [validate_direction(v, where=f"history item {k}") for k, v in enumerate(history)]
    if not vectors:
        raise DirectionError("history: empty, at least one item with a direction vector is needed")
    means = [sum(column) / len(vectors) for column in zip(*vectors)]
    profile = [
        POSITIVE if m >= positive_threshold else NEGATIVE if m <= negative_threshold else NEUTRAL for m in means
    ]
    if all(p == NEUTRAL for p in profile):
        extremity = [abs(m - NEUTRAL) for m in means]
        top = max(extremity)
        if top > 0:
            # Means of different dimensions reach the same extremity through different float sums: compare
            # with a tolerance far below the smallest real difference (0.5 / number of items).
            tied = top - 1e-9
            profile = [
                (POSITIVE if m > NEUTRAL else NEGATIVE) if e >= tied else NEUTRAL for m, e in zip(means, extremity)
            ]
    return profile


def parse_profile(text: str) -> list[float]:
    """Inverse of `verbalize`: the direction vector whose profile text is `text`.

    Labels may contain commas, so this matches whole labels greedily at each position rather than
    splitting on ", ". Unknown text raises DirectionError naming the character offset.
    """
    lookup = {}
    for dim in DIMENSIONS:
        lookup[dim.positive] = (dim.index, POSITIVE)
        lookup[dim.negative] = (dim.index, NEGATIVE)
    by_length = sorted(lookup, key=len, reverse=True)
    vector = [NEUTRAL] * N_DIMS
    pos, text = 0, text.strip()
    while pos < len(text):
        label = next((lab for lab in by_length if text.startswith(lab, pos)), None)
        if label is None:
            raise DirectionError(f"profile: unknown label at character {pos}: {text[pos:pos + 40]!r}")
        index, value = lookup[label]
        vector[index] = value
        pos += len(label)
        if text.startswith(", ", pos):
            pos += 2
    return vector


def space_document(positive_threshold: float, negative_threshold: float) -> dict:
    """The preference space as a JSON-ready document (the `space` stage's artifact), with PBA's thresholds."""
    return {
        "n_dims": N_DIMS,
        "groups": [{"name": g, "size": n, "start": GROUP_SLICES[g].start} for g, n in GROUPS],
        "thresholds": {"positive": positive_threshold, "negative": negative_threshold},
        "dimensions": [asdict(d) for d in DIMENSIONS],
    }
