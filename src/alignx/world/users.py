"""Synthetic users: sparse direction vectors over the 90 dimensions, their split, and a DEMO description.

A user prefers along 4-6 dimensions (a parameter), drawn more often from one or two "focus" groups (the
paper's five groups) they have more opinions about. Half of a user's dimensions take the positive pole and
half the negative one (one more of either when odd, at random): positive poles read as positive words
("Likes camping" praises tents), so a user with mostly positive poles would let a reader that only follows
the overall tone look personalized. Signs are symmetric over the population, so no response is better for
everyone: the label is only predictable from the persona, dimension by dimension.
"""

from __future__ import annotations

import numpy as np

from alignx import space
from alignx.config import PersonasConfig
from alignx.world import banks

GROUP_OF_DIM = np.array([[g for g, _ in space.GROUPS].index(d.group) for d in space.DIMENSIONS])
N_GROUPS = len(space.GROUPS)


def dim_indices(names: list[str] | tuple[str, ...]) -> tuple[int, ...]:
    """Dimension indices of names such as `camping` (error names the unknown one)."""
    return PersonasConfig(novel_dims=tuple(names)).novel_indices


def sample_directions(rng: np.random.Generator, n: int, cfg: PersonasConfig, novel: bool) -> np.ndarray:
    """`n` direction vectors (float32, values 0 / 0.5 / 1) for ordinary or novel users (params `personas`)."""
    lo, hi = cfg.active_dims
    k = rng.integers(lo, hi + 1, size=n)
    focus = np.zeros((n, N_GROUPS), dtype=bool)
    focus[np.arange(n), rng.integers(0, N_GROUPS, size=n)] = True
    focus[np.arange(n), rng.integers(0, N_GROUPS, size=n)] = True
    weight = np.where(focus[:, GROUP_OF_DIM], cfg.focus_weight, 1.0)
    # Weighted sampling without replacement (Efraimidis-Spirakis): the k largest u ** (1 / w).
    keys = rng.random((n, space.N_DIMS)) ** (1.0 / weight)
    novel_cols = list(cfg.novel_indices)
    keys[:, novel_cols] = -1.0  # never drawn as an ordinary dimension
    if novel:
        nlo, nhi = cfg.novel_active
        n_novel = rng.integers(nlo, min(nhi, len(novel_cols)) + 1, size=n)
        novel_keys = rng.random((n, len(novel_cols)))
        rank = novel_keys.argsort(axis=1).argsort(axis=1)
        keys[:, novel_cols] = np.where(rank < n_novel[:, None], 2.0 + novel_keys, -1.0)  # chosen first
    rank = (-keys).argsort(axis=1).argsort(axis=1)
    active = rank < k[:, None]
    # Balanced poles: in a random order of the user's dimensions the first half is positive.
    n_pos = k // 2 + (k % 2) * (rng.random(n) < 0.5)
    order = np.where(active, rng.random((n, space.N_DIMS)), 2.0).argsort(axis=1).argsort(axis=1)
    sign = np.where(order < n_pos[:, None], 1, -1)
    return np.where(active, 0.5 + 0.5 * sign, 0.5).astype(np.float32)


_AGE = {1.0: ("young", "twenty-something", "college-age"), 0.0: ("grey-haired", "retired", "sixty-year-old")}
_GENDER = {1.0: "woman", 0.0: "man", 0.5: "person"}
_LEADS = ("About me: {}.", "Friends would say: {}.", "Key fact: {}.", "Worth knowing: {}.", "Also, {}.")
_LIKES = ("I love {}.", "Big on {}.", "I am really into {}.")
_DISLIKES = ("I can't stand {}.", "Not into {} at all.", "{} bores me.")


def render_demo(rng: np.random.Generator, direction: np.ndarray, cfg: PersonasConfig) -> str:
    """A short self-description mentioning a random part of the user's non-neutral dimensions."""
    active = np.flatnonzero(direction != 0.5)
    lo, hi = cfg.demo_mentions
    n = min(len(active), int(rng.integers(lo, hi + 1)))
    shown = np.sort(rng.choice(active, size=n, replace=False)) if n else active[:0]
    age, gender = direction[0], direction[1]
    parts = []
    if 0 in shown or 1 in shown:
        age_word = _AGE[float(age)][rng.integers(3)] if 0 in shown else ""
        gender_word = _GENDER[float(gender)] if 1 in shown else "person"
        parts.append(" ".join(["I am a", age_word, gender_word]).replace("a  ", "a ") + ".")
    for d in shown:
        if d < 2:
            continue
        dim = space.DIMENSIONS[d]
        positive = direction[d] == 1.0
        if d >= banks.INTEREST_START:
            words = banks.TOPICS[dim.name]
            template = (_LIKES if positive else _DISLIKES)[rng.integers(3)]
            text = template.format(words[rng.integers(len(words))])
            parts.append(text[0].upper() + text[1:])
        else:
            label = (dim.positive if positive else dim.negative).split(" (")[0].lower()
            parts.append(_LEADS[rng.integers(len(_LEADS))].format(label))
    return " ".join(parts)
