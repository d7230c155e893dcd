"""The known-truth judge reads realizer output back into exactly the intensities it was written from."""

from __future__ import annotations

import numpy as np
import pytest

from alignx import space
from alignx.generation import judge
from alignx.world import realizer


def _intensities(rng: np.random.Generator, n: int) -> np.ndarray:
    out = np.zeros((n, space.N_DIMS), dtype=np.int8)
    for row in out:
        dims = rng.choice(space.N_DIMS, size=rng.integers(0, 9), replace=False)
        row[dims] = rng.choice([-1, 1], size=len(dims))
    out[:3, judge.LENGTH_DIM] = [-1, 0, 1]  # every length pole at least once
    return out


def test_reads_realizer_output_exactly():
    rng = np.random.default_rng(0)
    intensity = _intensities(rng, 400)
    words = realizer.topic_words(rng, len(intensity))
    texts = realizer.render_responses(rng, intensity, words)
    for row, text in zip(intensity, texts):
        read = judge.read_response(text)
        assert np.array_equal(read.intensity, row), text
        assert read.unknown_chars == 0 and read.conflicts == 0
        assert read.parses or not row.any() and not read.sentences


def test_pairs_read_exactly_too():
    rng = np.random.default_rng(1)
    a = _intensities(rng, 50)
    b = np.where(a != 0, -a, 0).astype(np.int8)
    words = realizer.topic_words(rng, 50)
    first, second = realizer.render_pairs(rng, a, b, words)
    for ia, ib, ta, tb in zip(a, b, first, second):
        assert np.array_equal(judge.read_response(ta).intensity, ia)
        assert np.array_equal(judge.read_response(tb).intensity, ib)


def test_unknown_text_and_conflicts_are_counted():
    pos, neg = judge.banks.MARKERS[20][1][0], judge.banks.MARKERS[20][0][0]
    read = judge.read_response(f"blorp {pos} zz {neg}")
    assert read.unknown_chars == len("blorp") + len("zz")
    assert read.conflicts == 1 and read.intensity[20] == 0 and not read.parses
    assert not judge.read_response("").parses


def test_utility_and_compare():
    direction = [0.5] * space.N_DIMS
    direction[3], direction[5] = 1.0, 0.0
    intensity = np.zeros(space.N_DIMS, dtype=np.int8)
    intensity[[3, 5, 7]] = [1, 1, -1]
    assert judge.utility(intensity, direction) == 0  # +1 (dim 3) - 1 (dim 5) + 0 (dim 7 indifferent)
    intensity[5] = -1
    assert judge.utility(intensity, direction) == 2
    assert [judge.compare(2, 1), judge.compare(1, 1), judge.compare(0, 1)] == [1.0, 0.5, 0.0]
    with pytest.raises(space.DirectionError):
        judge.utility(intensity, [0.3] * space.N_DIMS)
