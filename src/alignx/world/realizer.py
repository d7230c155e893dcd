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
    return _realize(intensity, words, _framing(rng, intensity.shape))


def render_pairs(
    rng: np.random.Generator, first: np.ndarray, second: np.ndarray, words: list[str]
) -> tuple[list[str], list[str]]:
    """Both responses of each pair from ONE draw of the framing (opener, closer, detail sentences, marker order
    and phrasing index): they differ only where their intensities differ, so the text that tells them apart is
    exactly the preference signal (a minimal pair), not random wording. Both rows of a pair must be non-zero
    on the same dimensions (a pair's contrasted and shared dimensions), so the markers keep one order."""
    if not np.array_equal(first != 0, second != 0):
        raise ValueError("render_pairs: the two responses of a pair must carry the same dimensions")
    framing = _framing(rng, first.shape)
    return _realize(first, words, framing), _realize(second, words, framing)


def _framing(rng: np.random.Generator, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """The random choices of a response that carry no preference: marker order keys, phrasing picks, opener,
    closer and detail sentences."""
    n = shape[0]
    return {"order": rng.random(shape), "pick": rng.integers(1 << 20, size=shape),
            "opener": rng.integers(len(banks.OPENERS), size=n), "closer": rng.integers(len(banks.CLOSERS), size=n),
            "detail": rng.integers(len(banks.DETAILS), size=n)}


def _realize(intensity: np.ndarray, words: list[str], framing: dict[str, np.ndarray]) -> list[str]:
    present = intensity != 0
    order = np.argsort(np.where(present, framing["order"], 2.0), axis=1, kind="stable")
    counts = present.sum(axis=1).tolist()
    opener, closer, detail = (framing[k].tolist() for k in ("opener", "closer", "detail"))
    length = intensity[:, LENGTH_DIM].tolist()
    responses = []
    for i in range(intensity.shape[0]):
        dims = order[i, : counts[i]]
        signs, picks = intensity[i, dims].tolist(), framing["pick"][i, dims].tolist()
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
