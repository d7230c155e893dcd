"""The preference space: the paper's table, and PBA's profile inference."""

import math

import pytest

from alignx import space
from alignx.space import DIMENSIONS, DirectionError, infer_profile, parse_profile, verbalize

N = space.N_DIMS


def vec(**dims: float) -> list[float]:
    """A neutral vector with some dimensions set, by index: vec(d16=1) sets dimension 16."""
    v = [0.5] * N
    for key, value in dims.items():
        v[int(key[1:])] = value
    return v


def test_groups_have_the_papers_sizes_in_index_order():
    assert [(g, s) for g, s in space.GROUPS] == [
        ("demographics_and_big_five", 7),
        ("core_psychological_needs", 21),
        ("work_and_lifestyle", 12),
        ("response_quality", 7),
        ("interests", 43),
    ]
    counts = {}
    for d in DIMENSIONS:
        counts[d.group] = counts.get(d.group, 0) + 1
    assert counts == dict(space.GROUPS)
    assert [d.index for d in DIMENSIONS] == list(range(90))
    assert space.GROUP_SLICES["interests"] == slice(47, 90)


@pytest.mark.parametrize(
    "index, positive, negative",
    [
        (0, "Young", "Older"),
        (16, "Concise communication style", "Detailed communication style"),
        (47, "Likes science", "Dislikes science"),
        (89, "Likes fashion", "Dislikes fashion"),
    ],
)
def test_labels_match_the_release(index, positive, negative):
    assert (DIMENSIONS[index].positive, DIMENSIONS[index].negative) == (positive, negative)


def test_labels_and_names_are_unique_and_non_empty():
    labels = [d.positive for d in DIMENSIONS] + [d.negative for d in DIMENSIONS]
    assert len(set(labels)) == 180 and all(labels)
    assert len({d.name for d in DIMENSIONS}) == 90


def test_verbalize_lists_labels_in_index_order():
    v = vec(d16=0, d3=1, d47=0)
    assert verbalize(v) == "High Extraversion, Detailed communication style, Dislikes science"
    assert verbalize([0.5] * N) == ""


def test_parse_profile_inverts_verbalize_even_with_commas_inside_labels():
    v = vec(d14=1, d15=0, d22=1, d39=1, d89=0)  # labels 14, 15, 22, 39 contain commas
    assert parse_profile(verbalize(v)) == v


def test_parse_profile_names_unknown_text():
    with pytest.raises(DirectionError, match="unknown label at character 8"):
        parse_profile("Female, Likes unicorns")


def test_infer_profile_thresholds_hand_computed():
    # Five items; dimension means: d0 = 3/5 = 0.6 (positive, on the threshold), d1 = 2/5 = 0.4 (negative, on
    # the threshold), d2 = 4/5 = 0.8 (positive), d3 = 2.5/5 = 0.5 (neutral).
    items = [
        vec(d0=1, d1=0, d2=1, d3=1),
        vec(d0=1, d1=0, d2=1, d3=0),
        vec(d0=1, d1=0, d2=1),
        vec(d0=0, d1=1, d2=1),
        vec(d0=0, d1=1, d2=0),
    ]
    profile = infer_profile(items, 0.6, 0.4)
    assert profile[:4] == [1.0, 0.0, 1.0, 0.5]
    assert all(p == 0.5 for p in profile[4:])


def test_infer_profile_between_thresholds_is_neutral():
    # Ten items: d4 = (1 + 9 * 0.5) / 10 = 0.55 and d5 = 0.45 lie between the thresholds; d0 = 1 crosses.
    items = [vec(d0=1, d4=1, d5=0)] + [vec(d0=1) for _ in range(9)]
    profile = infer_profile(items, 0.6, 0.4)
    assert (profile[0], profile[4], profile[5]) == (1.0, 0.5, 0.5)


def test_infer_profile_falls_back_to_the_most_extreme_dimensions():
    # Twelve items: d10 = 7/12 = 0.583 and d20 = 5/12 = 0.417 are the most extreme (tied) but cross neither
    # 0.6 nor 0.4; d30 = 6.5/12 = 0.542 leans positive but less.
    items = [vec(d10=1, d20=0, d30=1), vec(d10=1, d20=0)] + [vec() for _ in range(10)]
    means = [sum(col) / len(items) for col in zip(*items)]
    assert 0.4 < means[20] < means[30] < means[10] < 0.6
    profile = infer_profile(items, 0.6, 0.4)
    assert profile[10] == 1.0 and profile[20] == 0.0
    assert profile[30] == 0.5  # less extreme than d10/d20: not set
    assert sum(p != 0.5 for p in profile) == 2


def test_infer_profile_of_all_neutral_history_is_neutral():
    assert infer_profile([vec(), vec()], 0.6, 0.4) == [0.5] * N


@pytest.mark.parametrize(
    "bad, message",
    [
        ([0.5] * 89, "has 89 values, expected 90"),
        ([0.5] * 91, "has 91 values, expected 90"),
        (vec(d7=0.3), r"value 0.3 at index 7 \(food\)"),
        (vec(d42=float("nan")), r"NaN at index 42 \(honesty\)"),
        (vec(d5=2), r"value 2.0 at index 5"),
        (["x"] * 90, "not a sequence of numbers"),
    ],
)
def test_bad_vectors_name_the_problem_and_index(bad, message):
    with pytest.raises(DirectionError, match=message):
        verbalize(bad)
    with pytest.raises(DirectionError, match=f"history item 1: .*{message}"):
        infer_profile([vec(), bad], 0.6, 0.4)


def test_empty_history_is_an_error():
    with pytest.raises(DirectionError, match="history: empty"):
        infer_profile([], 0.6, 0.4)


def test_p_soups_profiles_use_only_known_labels(shared_dir):
    import json

    records = json.loads((shared_dir / "benchmarks/p-soups/friendly_unfriendly.json").read_text())
    for i, record in enumerate(records):
        vector = parse_profile(record["profile"])
        assert verbalize(vector) == record["profile"], f"record {i}"
