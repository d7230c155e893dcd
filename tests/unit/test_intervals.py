"""Bootstrap intervals by cluster (alignx.evaluation.intervals), and where evaluation uses them: summaries with
their intervals and a data-driven baseline set, resampling units, the reference variant's join, and targets that
count as met only when their interval clears the threshold."""

import numpy as np
import pandas as pd
import pytest

from alignx.evaluation import eval_sets, metrics, reference_variant, report
from alignx.evaluation.intervals import Bootstrap, add_interval, bounds
from tests.unit.test_evaluation_report import results  # noqa: F401  (the report's fixture)

BOOT = Bootstrap(resamples=1000, level=0.95, seed=0)


def _correlated(n_users: int = 60, per_user: int = 10, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Records whose correctness is decided per user: a user's records are all right or all wrong."""
    rng = np.random.default_rng(seed)
    user_right = rng.random(n_users) < 0.6
    return np.repeat(user_right, per_user).astype(float), np.repeat(np.arange(n_users), per_user)


def test_all_correct_gives_the_interval_one_to_one():
    assert BOOT.interval(np.ones(40), np.arange(40) // 4) == (1.0, 1.0)
    assert BOOT.interval(np.zeros(10), np.arange(10)) == (0.0, 0.0)


def test_the_interval_holds_the_share_and_nothing_measured_has_none():
    values, users = _correlated()
    low, high = BOOT.interval(values, users)
    assert low <= values.mean() <= high and 0 <= low < high <= 1
    assert all(np.isnan(BOOT.interval([], [])))
    assert all(np.isnan(BOOT.paired([], [], [])))


def test_a_cluster_bootstrap_is_wider_than_a_record_bootstrap_on_correlated_records():
    values, users = _correlated()
    by_user = np.subtract(*BOOT.interval(values, users)[::-1])
    by_record = np.subtract(*BOOT.interval(values, np.arange(len(values)))[::-1])
    # 60 independent users, not 600 independent records: about sqrt(10) ~ 3 times wider.
    assert by_user > 2 * by_record


def test_a_large_paired_gain_has_a_p_value_near_zero_and_an_interval_above_zero():
    rng = np.random.default_rng(2)
    users = np.arange(400) // 4
    aligner, baseline = (rng.random(400) < 0.85).astype(float), (rng.random(400) < 0.5).astype(float)
    low, high, p = BOOT.paired(aligner, baseline, users)
    gain = aligner.mean() - baseline.mean()
    assert 0 < low <= gain <= high and p == pytest.approx(1 / 1001)


def test_no_gain_has_a_p_value_of_one_and_a_noisy_small_gain_is_not_significant():
    values, users = _correlated()
    shuffled = np.random.default_rng(3).permutation(values)  # the same share on other records: gain exactly 0
    low, high, p = BOOT.paired(values, shuffled, users)
    assert low < 0 < high and p == 1.0
    rng = np.random.default_rng(4)
    a, b = (rng.random(200) < 0.52).astype(float), (rng.random(200) < 0.50).astype(float)
    assert BOOT.paired(a, b, np.arange(200) // 2)[2] > 0.1


def test_the_bootstrap_is_seeded():
    values, users = _correlated()
    assert BOOT.interval(values, users) == Bootstrap(1000, 0.95, 0).interval(values, users)
    assert BOOT.interval(values, users) != Bootstrap(1000, 0.95, 1).interval(values, users)
    # Cluster ids of any type, in any order of appearance, resample alike.
    assert BOOT.interval(values, users) == BOOT.interval(values, [f"user-{u:03d}" for u in users])


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="values for 3 cluster ids"):
        BOOT.interval([1, 0], ["a", "b", "c"])
    with pytest.raises(ValueError, match="NaN"):
        BOOT.interval([1, float("nan")], ["a", "b"])
    with pytest.raises(ValueError, match="level"):
        Bootstrap(level=1.5)


def _scores(n_users: int = 30, per_user: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = n_users * per_user
    frame = pd.DataFrame({"policy_chosen": rng.normal(size=n), "policy_rejected": rng.normal(size=n),
                          "ref_chosen": 0.0, "ref_rejected": 0.0, "bare_chosen": rng.normal(size=n),
                          "bare_rejected": rng.normal(size=n), "n_chosen": 5, "n_rejected": 6})
    frame["policy_chosen"] += 1.0  # the aligner prefers chosen most of the time
    frame["cluster"] = np.repeat([f"u{i}" for i in range(n_users)], per_user)
    return frame


def test_a_summary_carries_every_figure_with_its_interval_and_every_gain_with_its_p_value():
    frame = _scores()
    plain, out = metrics.summarize(frame, 0.1), metrics.summarize(frame, 0.1, BOOT)
    assert {k: out[k] for k in plain} == plain  # the figures themselves do not change
    assert out["clusters"] == 30 and out["baselines"] == ["base_no_persona", "base_persona"]
    for key in ("aligner", "base_no_persona", "base_persona", "base_no_persona_per_token", "best_baseline", "gain",
                "gain_vs_base_no_persona", "gain_vs_base_persona"):
        low, high = bounds(out, key)
        assert low <= out[key] <= high, key
    assert 0 < out["gain_p_value"] <= 1 and out["gain_vs_base_persona"] == out["aligner"] - out["base_persona"]


def test_a_baseline_margin_column_joins_the_baselines_without_code_change():
    frame = _scores()
    frame["baseline_margin_vpl"] = np.where(np.arange(len(frame)) % 10 == 0, -1.0, 1.0)  # right 90 % of the time
    out = metrics.summarize(frame, 0.1, BOOT)
    assert out["baselines"] == ["base_no_persona", "base_persona", "vpl"] and out["vpl"] == pytest.approx(0.9)
    assert out["best_baseline_name"] == "vpl" and out["gain"] == pytest.approx(out["aligner"] - 0.9)
    assert bounds(out, "vpl") is not None and "gain_vs_vpl_p_value" in out


def test_resampling_units_are_users_else_shared_profiles_else_records():
    frame = pd.DataFrame({"record_id": ["r0", "r1", "r2"], "user_id": ["u0", "u0", "u1"],
                          "Preference Direction": [None] * 3})
    assert eval_sets.clusters(frame)[1] == "user" and eval_sets.clusters(frame)[0].tolist() == ["u0", "u0", "u1"]
    # A benchmark: one user per record, a profile per record stating its preferences (two records share one).
    released = frame.assign(user_id=frame["record_id"], **{"Preference Direction": [[1.0, 0.5], [1.0, 0.5], [0.0, 0.5]]})
    units, name = eval_sets.clusters(released)
    assert name == "profile" and units[0] == units[1] != units[2]
    assert eval_sets.clusters(released.assign(**{"Preference Direction": [[1.0], [0.0], [0.5]]}))[1] == "record"
    assert eval_sets.clusters(frame.assign(user_id=frame["record_id"]))[1] == "record"  # no profile given


def _pair_frame(records, chosen) -> pd.DataFrame:
    return pd.DataFrame({"record_id": records, "chosen_ids": [np.array(c) for c in chosen],
                         "rejected_ids": [np.array([9])] * len(records)})


def test_the_reference_variant_joins_the_same_records_and_fails_loudly_otherwise():
    pba = _pair_frame(["r1", "r0"], [[1, 2], [3]])
    ica = _pair_frame(["r0", "r1"], [[3], [1, 2]]).assign(ref_chosen=[-3.0, -1.0], ref_rejected=-2.0, reference_rows=1)
    joined = reference_variant.join(pba, ica, "ica.parquet")
    assert joined["ica_ref_chosen"].tolist() == [-1.0, -3.0]  # PBA's row order
    with pytest.raises(eval_sets.EvalInputError, match=r"ica.parquet: record 'r1'.*no ICA example"):
        reference_variant.join(pba, ica.iloc[:1], "ica.parquet")
    with pytest.raises(eval_sets.EvalInputError, match=r"record 'r0', field 'chosen_ids'"):
        reference_variant.join(pba, ica.assign(chosen_ids=[np.array([4]), np.array([1, 2])]), "ica.parquet")
    with pytest.raises(eval_sets.EvalInputError, match=r"record 'r0'.*one finite reference"):
        reference_variant.join(pba, ica.assign(ref_chosen=[float("nan"), -1.0]), "ica.parquet")


def test_the_reference_variant_scores_pba_against_the_reference_on_the_ica_prompt():
    scores = _scores()
    ica_ref = pd.DataFrame({"ica_ref_chosen": scores["policy_chosen"] + 5.0, "ica_ref_rejected": scores["policy_rejected"]})
    out = reference_variant.summary(scores, ica_ref, 0.1, BOOT)
    assert out["accuracy"] == 0.0  # the ICA-prompt reference explains every chosen response better
    assert out["same_input"] == metrics.summarize(scores, 0.1)["aligner"]
    assert out["difference"] == -out["same_input"] and out["difference_ci_high"] < 0 and out["difference_p_value"] < 0.01


def test_a_target_is_met_only_when_its_interval_clears_the_threshold(results):  # noqa: F811
    results.sets["test"] |= {"gain_ci_low": 0.15, "gain_ci_high": 0.25}  # +20 points, the interval reaches 15
    add_interval(results.oracle, "accuracy", np.ones(10), np.arange(10), BOOT)  # [1, 1]: clears 85 %
    checked = {t["target"]: t for t in report.targets(results)}
    assert (checked["gain over best baseline on test"]["met"], checked["gain over best baseline on test"]["within_noise"]) == (False, True)
    assert checked["oracle-profile accuracy on test"]["met"] is True
    assert checked["flips on neutral pairs"]["within_noise"] is False  # without an interval the value decides
    doc = report.metrics_document(results)
    assert doc["targets_met"]["gain_over_best_baseline_on_test"] == 0
    assert doc["targets_within_noise"] == {"gain_over_best_baseline_on_test": 1, "gain_over_best_baseline_on_p-soups": 0,
                                           "oracle-profile_accuracy_on_test": 0, "follows_on_non-neutral_pairs": 0,
                                           "flips_on_neutral_pairs": 0, "placebo_follows": 0}
    text = report.markdown(results)
    assert "| gain over best baseline on test | >= 17 points | +20.00 points [+15.00, +25.00] | **no, within noise** |" in text
