"""Evaluation arithmetic: implicit-reward accuracy, both baselines, gains, per-group accuracy, controllability."""

import math

import pandas as pd
import pytest

from alignx.evaluation import metrics


@pytest.fixture
def scores() -> pd.DataFrame:
    # Hand-computed below: aligner margins +0.2, -0.1, 0 (tie); bare preferences right, wrong, wrong.
    return pd.DataFrame({
        "mode": ["ugc", "pair", "ugc"],
        "n_ugc": [2, 0, 4],
        "policy_chosen": [-10.0, -10.0, -5.0], "policy_rejected": [-12.0, -9.0, -5.0],
        "ref_chosen": [-11.0, -10.0, -5.0], "ref_rejected": [-11.0, -10.0, -5.0],
        "bare_chosen": [-3.0, -4.0, -2.0], "bare_rejected": [-4.0, -3.0, -1.0],
        "n_chosen": [3, 2, 5], "n_rejected": [1, 1, 2],
    })


def test_reward_margin_is_beta_times_policy_minus_reference_on_the_same_input(scores):
    assert metrics.reward_margin(scores, beta=0.1).tolist() == pytest.approx([0.2, -0.1, 0.0])
    assert metrics.reward_margin(scores, beta=0.5).tolist() == pytest.approx([1.0, -0.5, 0.0])


def test_a_tie_is_not_a_correct_pair(scores):
    assert metrics.aligner(scores, 0.1).tolist() == [True, False, False]


def test_baselines_and_gain(scores):
    summary = metrics.summarize(scores, beta=0.1)
    assert summary["n"] == 3
    assert summary["aligner"] == pytest.approx(1 / 3)
    assert summary["base_no_persona"] == pytest.approx(1 / 3)  # bare chosen more likely only in row 0
    # base with persona against base without: (-11+3) < (-11+4); (-10+4) > (-10+3); (-5+2) > (-5+1)
    assert summary["base_persona"] == pytest.approx(2 / 3)
    assert summary["best_baseline_name"] == "base_persona"
    assert summary["gain"] == pytest.approx(1 / 3 - 2 / 3)


def test_per_token_no_persona_diagnostic_is_reported_but_never_the_best_baseline(scores):
    # per token: -1 > -4, -2 > -3, -0.4 > -0.5: all right, where the summed log-probs get 1 of 3.
    summary = metrics.summarize(scores, beta=0.1)
    assert summary["base_no_persona_per_token"] == 1.0
    assert summary["best_baseline"] == pytest.approx(2 / 3) and summary["best_baseline_name"] == "base_persona"


def test_a_policy_equal_to_its_reference_earns_nothing():
    frame = pd.DataFrame({"policy_chosen": [-1.0, -9.0], "policy_rejected": [-5.0, -2.0],
                          "ref_chosen": [-1.0, -9.0], "ref_rejected": [-5.0, -2.0]})
    assert metrics.accuracy(metrics.aligner(frame, 0.1)) == 0.0


def test_empty_set_is_not_measured_rather_than_zero():
    assert math.isnan(metrics.accuracy(pd.Series([], dtype=bool)))


def test_grouped_accuracy(scores):
    table = metrics.grouped_accuracy(scores, metrics.aligner(scores, 0.1), "mode")
    assert table.to_dict("records") == [
        {"mode": "pair", "accuracy": 0.0, "n": 1},
        {"mode": "ugc", "accuracy": 0.5, "n": 2},
    ]


def _flip_rows(rows):
    cols = ["dim", "example_id", "pair_value", "pos_chosen", "pos_rejected", "neg_chosen", "neg_rejected"]
    frame = pd.DataFrame(rows, columns=cols)
    for side in ("pos", "neg"):  # reference 0 everywhere: margins are 0.1 * (chosen - rejected)
        frame[f"{side}_ref_chosen"] = frame[f"{side}_ref_rejected"] = 0.0
    return frame


def test_controllability_flip_rates():
    flips = metrics.flip_table(_flip_rows([
        (16, "a", 1.0, -1.0, -2.0, -2.0, -1.0),  # non-neutral, flips the right way
        (16, "b", 0.0, -1.0, -2.0, -2.0, -1.0),  # non-neutral, flips the wrong way round
        (16, "c", 1.0, -1.0, -2.0, -1.0, -3.0),  # non-neutral, no flip, margin moves the wrong way
        (16, "g", 1.0, -1.0, -4.0, -1.0, -2.0),  # non-neutral, no flip, margin moves the right way
        (16, "d", 0.5, -1.0, -2.0, -1.0, -2.0),  # neutral, no flip
        (20, "e", 0.5, -1.0, -2.0, -3.0, -2.0),  # neutral, flips
        (20, "f", 0.5, -1.0, -2.0, -1.0, -2.5),  # neutral, no flip
    ]), beta=0.1)
    assert flips["flipped"].tolist() == [True, True, False, False, False, True, False]
    assert flips["follows"].tolist() == [True, False, False, True, False, False, False]
    assert flips["flipped_right"].tolist() == [True, False, False, False, False, False, False]
    summary = metrics.controllability(flips)
    assert summary["flip_non_neutral"] == pytest.approx(2 / 4)
    assert summary["flip_neutral"] == pytest.approx(1 / 3)
    assert summary["follows_non_neutral"] == pytest.approx(2 / 4)
    assert summary["flip_right_non_neutral"] == pytest.approx(1 / 4)
    assert (summary["pairs_non_neutral"], summary["pairs_neutral"], summary["dims_measured"]) == (4, 3, 1)
    assert "placebo_follows" not in summary
    # A pair flips exactly when the label's polarity moves its margin further than the polarity-free part does.
    shift, common = (flips["margin_pos"] - flips["margin_neg"]) / 2, (flips["margin_pos"] + flips["margin_neg"]) / 2
    assert (flips["flipped"] == (shift.abs() > common.abs())).all()
    assert summary["shift_neutral"] == pytest.approx(0.025) and summary["common_neutral"] == pytest.approx(0.1)
    per_dim = metrics.per_dimension(flips)
    assert per_dim["dim"].tolist() == [16, 20]
    assert per_dim["flip_non_neutral"].tolist()[0] == pytest.approx(2 / 4)
    assert math.isnan(per_dim["flip_non_neutral"].tolist()[1])  # dim 20 had no non-neutral pair
    assert per_dim["flip_neutral"].tolist() == pytest.approx([0.0, 0.5])


def test_placebo_shows_what_the_dimensions_own_label_adds():
    own = metrics.flip_table(_flip_rows([
        (16, "a", 1.0, -1.0, -2.0, -2.0, -1.0),  # follows
        (16, "b", 0.0, -1.0, -2.0, -1.0, -1.0),  # margin moves towards chosen: wrong way for a 0 pair
        (16, "c", 0.0, -2.0, -1.0, -1.0, -2.0),  # follows
    ]), beta=0.1)
    # The same pairs with another dimension's labels: only a global reaction to the labels moves the margin.
    placebo = _flip_rows([
        (16, "a", 1.0, -1.0, -2.0, -2.0, -1.0),  # moves the pair's way anyway (tone)
        (16, "b", 0.0, -1.0, -2.0, -1.0, -2.0),  # does not move
        (16, "c", 0.0, -1.0, -2.0, -1.0, -2.0),  # does not move
    ]).assign(label_dim=[40, 3, 71])
    placebo = metrics.flip_table(placebo, beta=0.1)
    assert placebo["label_dim"].tolist() == [40, 3, 71] and placebo["follows"].tolist() == [True, False, False]
    summary = metrics.controllability(own, placebo)
    assert summary["follows_non_neutral"] == pytest.approx(2 / 3)
    assert summary["placebo_follows"] == pytest.approx(1 / 3) and summary["placebo_flip"] == pytest.approx(1 / 3)
    assert summary["follows_specific"] == pytest.approx(1 / 3) and summary["pairs_placebo"] == 3
