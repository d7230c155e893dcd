"""Reference readers on hand-made vectors and texts whose answers are known."""

import math

import numpy as np
import pandas as pd
import pytest

from alignx import space
from alignx import readers
from alignx.evaluation import metrics
from alignx.world import banks

DIM = {d.name: d.index for d in space.DIMENSIONS}


def vec(**values: float) -> list[float]:
    """A 90-vector, neutral except the named dimensions."""
    out = [0.5] * space.N_DIMS
    for name, value in values.items():
        out[DIM[name]] = value
    return out


def rows(*vectors) -> np.ndarray:
    return readers.vectors(vectors)


def test_tone_ties_on_a_balanced_pair_whatever_the_profile():
    balanced = vec(sleep=1.0, food=0.0)  # one positive-pole trait and one negative-pole trait move
    profiles = [vec(sleep=1.0, food=0.0, camping=1.0), vec(order=0.0), vec(sleep=1.0, food=0.0)]
    assert readers.tone(rows(*[balanced] * 3), rows(*profiles)).tolist() == [0.5, 0.5, 0.5]


def test_tone_follows_the_balance_of_signs_not_the_dimensions():
    positive_pair = vec(sleep=1.0, food=1.0, order=0.0)  # chosen more positive overall
    profiles = [vec(camping=1.0), vec(camping=0.0), vec(camping=1.0, music=0.0), None]
    credit = readers.tone(rows(*[positive_pair] * 4), rows(*profiles))
    # Unrelated dimensions, yet the reader "agrees" with a positive profile; a missing profile ties.
    assert credit.tolist() == [1.0, 0.0, 0.5, 0.5]
    # With the pair's own direction as profile (the oracle), tone decides every unbalanced pair.
    assert readers.tone(rows(positive_pair), rows(positive_pair)).tolist() == [1.0]


def test_profile_reader_counts_agreements_minus_contradictions():
    pair = vec(sleep=1.0, food=0.0, order=1.0)
    profiles = [
        vec(sleep=1.0, food=0.0),  # two agreements
        vec(sleep=1.0, food=1.0),  # one agreement, one contradiction: tie
        vec(sleep=0.0, order=0.0, food=0.0),  # two contradictions, one agreement
        vec(camping=1.0),  # says nothing about the pair
        None,  # nothing shown
    ]
    assert readers.profile(rows(*[pair] * 5), rows(*profiles)).tolist() == [1.0, 0.5, 0.0, 0.5, 0.5]
    assert metrics.accuracy(np.array([1.0, 0.5, 0.0, 0.5])) == 0.5
    assert math.isnan(metrics.accuracy(np.array([])))


def phrase(name: str, positive: bool, k: int = 0) -> str:
    """The k-th phrasing of a dimension's pole in the world's banks (what the realizer writes)."""
    return banks.MARKERS[DIM[name]][positive][k]


def test_marker_phrases_are_the_banks_style_phrases_and_filled_interest_sentences():
    phrases = readers.marker_phrases()
    assert phrases[phrase("age", True)] == (DIM["age"], True)
    assert phrases[phrase("age", False)] == (DIM["age"], False)
    assert phrases[phrase("camping", True, 5)] == (DIM["camping"], True)  # a template filled with a topic word
    assert any("camping" in p for p in banks.MARKERS[DIM["camping"]][True])
    # Two phrasings of one pole are one marker; text from outside the banks has none.
    text = f"So, tents. {phrase('sleep', True, 0)} {phrase('sleep', True, 1)} Cheers."
    assert readers.markers(text) == {(DIM["sleep"], True)}
    assert readers.markers("Nothing from the banks here.") == frozenset()


def test_marker_overlap_prefers_the_response_sharing_more_markers_with_the_persona():
    persona = ("### User history\n[Comment]\nPost: Quick question: is camping worth the money?\n"
               f"User's comment: {phrase('age', True)} {phrase('camping', True)}\n\n"
               "### Post\nHey all, any tips for hiking on a budget?")
    # Other phrasings of the persona's markers count as shared; the opposite pole does not.
    shares_two = f"{phrase('age', True, 1)} {phrase('camping', True, 1)}"
    shares_one = f"{phrase('age', True, 2)} {phrase('camping', False)}"
    shares_none = f"{phrase('age', False)} {phrase('sleep', True)}"
    credit = readers.marker_overlap([persona] * 4, [shares_two, shares_none, shares_one, shares_one],
                                    [shares_one, shares_two, shares_one, shares_none])
    assert credit.tolist() == [1.0, 0.0, 0.5, 1.0]


def _eval_set() -> pd.DataFrame:
    pair = vec(sleep=1.0, food=0.0, order=1.0)  # unbalanced: two positive-pole traits, one negative
    return pd.DataFrame({
        "direction": [pair, pair, pair, None],  # the last is a benchmark pair: no direction vector
        "shown_profile": [vec(sleep=1.0), vec(sleep=0.0), None, None],
        "user_direction": [vec(sleep=1.0, food=0.0), float("nan"), vec(order=0.0), None],  # NaN: user not found
        "prompt_text": [phrase("age", True), "", "", phrase("age", True)],
        "chosen": [phrase("age", True, 1), "a", "b", "c"],
        "rejected": [phrase("sleep", False), "a", "b", phrase("age", True, 1)],
    })


def test_credits_of_every_reader_on_one_eval_set():
    credit = readers.credits(_eval_set(), with_markers=True)
    assert list(credit.columns) == ["tone", "tone_oracle", "inferred_profile", "user_profile", "marker_overlap"]
    expected = {
        "tone": [1.0, 0.0, 0.5, None],  # shown profiles: positive, negative, nothing inferable
        "tone_oracle": [1.0, 1.0, 1.0, None],
        "inferred_profile": [1.0, 0.0, 0.5, None],
        "user_profile": [1.0, None, 0.0, None],
        "marker_overlap": [1.0, 0.5, 0.5, 0.0],  # texts exist on benchmarks too
    }
    for name, values in expected.items():
        got = credit[name].tolist()
        assert [None if math.isnan(v) else v for v in got] == values, name
    assert "marker_overlap" not in readers.credits(_eval_set(), with_markers=False)


def test_summary_puts_the_aligner_on_the_same_pairs_and_splits_by_evidence():
    credit = readers.credits(_eval_set(), with_markers=False)
    correct = pd.Series([True, False, True, True])
    summary = metrics.reader_summary(credit, correct)
    assert summary["inferred_profile"] == {"accuracy": 0.5, "aligner": pytest.approx(2 / 3), "n": 3}
    assert summary["user_profile"] == {"accuracy": 0.5, "aligner": 1.0, "n": 2}
    evidence = metrics.evidence_split(credit["inferred_profile"], correct)
    assert evidence == {"favours": {"accuracy": 1.0, "n": 1}, "silent": {"accuracy": 1.0, "n": 1},
                        "misleads": {"accuracy": 0.0, "n": 1}}  # the benchmark pair is in none


def test_readers_with_no_pair_to_judge_are_not_measured():
    frame = _eval_set().iloc[3:]
    summary = metrics.reader_summary(readers.credits(frame, with_markers=False), pd.Series([True]))
    assert summary["tone"]["n"] == 0 and math.isnan(summary["tone"]["accuracy"])
