"""The compositional realizer: posts from topic banks, responses from per-dimension intensities.

A response's intensity vector has one value per dimension in {-1, 0, +1} (negative pole, absent, positive
pole). Every non-zero dimension contributes one marker phrase of its pole; zero leaves no trace. Length
moves with dimension 16 only: the concise pole drops the framing sentences, the detailed pole adds two
detail sentences, so "longer wins" is not a shortcut unless a user cares about length.
"""

from __future__ import annotations

import numpy as np

from alignx import space
from alignx.world import banks

LENGTH_DIM = [d.name for d in space.DIMENSIONS].index("communication_length")  # +1 concise, -1 detailed
N_INTERESTS = len(banks.INTEREST_NAMES)


def topic_words(rng: np.random.Generator, n: int) -> list[str]:
    """`n` random topic words (the subject of a post)."""
    topic = rng.integers(N_INTERESTS, size=n)
    word = rng.integers(1 << 20, size=n)
    words = [banks.TOPICS[name] for name in banks.INTEREST_NAMES]
    return [words[t][w % len(words[t])] for t, w in zip(topic.tolist(), word.tolist())]


def render_posts(rng: np.random.Generator, words: list[str]) -> list[str]:
    """One post per topic word: opener, question, context and a closing line drawn independently."""
    n = len(words)
    opener, question, context, relation, number, time = (
        rng.integers(k, size=n).tolist()
        for k in (
            len(banks.POST_OPENERS), len(banks.POST_QUESTIONS), len(banks.POST_CONTEXTS), len(banks.RELATIONS),
            29, len(banks.POST_TIMES),
        )
    )  # fmt: skip
    posts = []
    for i, w in enumerate(words):
        ctx = banks.POST_CONTEXTS[context[i]].format(r=banks.RELATIONS[relation[i]], n=number[i] + 2)
        q = banks.POST_QUESTIONS[question[i]].format(w=w)
        posts.append(f"{banks.POST_OPENERS[opener[i]]} {q} {ctx} {banks.POST_TIMES[time[i]]}")
    return posts


def render_responses(rng: np.random.Generator, intensity: np.ndarray, words: list[str]) -> list[str]:
    """One response per row of `intensity` (int8, shape (n, 90)) to a post about `words[i]`.

    Markers appear in a random order, so position carries no signal; phrasings are drawn per marker.
    """
    n = intensity.shape[0]
    present = intensity != 0
    order = np.argsort(np.where(present, rng.random(intensity.shape), 2.0), axis=1, kind="stable")
    counts = present.sum(axis=1).tolist()
    pick = rng.integers(1 << 20, size=intensity.shape)
    opener = rng.integers(len(banks.OPENERS), size=n).tolist()
    closer = rng.integers(len(banks.CLOSERS), size=n).tolist()
    detail = rng.integers(len(banks.DETAILS), size=n).tolist()
    length = intensity[:, LENGTH_DIM].tolist()
    responses = []
    for i in range(n):
        dims = order[i, : counts[i]]
        signs, picks = intensity[i, dims].tolist(), pick[i, dims].tolist()
        parts = []
        if length[i] != 1:
            parts.append(banks.OPENERS[opener[i]].format(w=words[i]))
        for d, sign, p in zip(dims.tolist(), signs, picks):
            bank = banks.MARKERS[d][sign > 0]
            parts.append(bank[p % len(bank)])
        if length[i] == -1:
            parts += [banks.DETAILS[detail[i]], banks.DETAILS[(detail[i] + 1) % len(banks.DETAILS)]]
        if length[i] != 1:
            parts.append(banks.CLOSERS[closer[i]])
        responses.append(" ".join(parts))
    return responses


def direction_of(delta: np.ndarray) -> np.ndarray:
    """Direction values (float32 0 / 0.5 / 1) of an intensity difference: 1 where positive, 0 where negative."""
    return (0.5 + 0.5 * np.sign(delta)).astype(np.float32)
