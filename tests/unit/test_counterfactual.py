"""Counterfactual PBA train examples (format.counterfactual): a neutral flip changes one label the pair does not
contrast and keeps chosen / rejected; a contrast flip turns the profile to the rejected response and swaps them;
only train records are augmented; the draws are seeded; the examples of the records themselves do not move."""

from __future__ import annotations

import numpy as np
import pytest

from alignx import readers, space
from alignx.config import ConfigError, CounterfactualConfig, FormatConfig, SpaceConfig, parse
from alignx.inputs import counterfactual
from alignx.inputs.examples import format_records
from alignx.inputs.format import gate_examples
from alignx.inputs.examples import gate_frame
from alignx.modeling.tokenizer import corpus_texts, train_tokenizer
from tests.records import record, records

SPACE = SpaceConfig()
N = space.N_DIMS


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(corpus_texts(records(40)), vocab_size=800)


def vec(**values: float) -> list[float]:
    """A 90-vector, neutral except the dimensions named by index (d3=1.0 sets dimension 3)."""
    out = [space.NEUTRAL] * N
    for key, value in values.items():
        out[int(key[1:])] = value
    return out


def fmt(neutral: float = 0.0, contrast: float = 0.0, seed: int = 0, profile: str = "corrected",
        labels: str = "profile", poles: bool = False) -> FormatConfig:
    return FormatConfig(max_len=2048, pba_train_profile=profile,
                        counterfactual=CounterfactualConfig(seed=seed, neutral=neutral, contrast=contrast,
                                                            labels=labels, poles=poles))


def test_neutral_flip_flips_one_label_the_pair_does_not_contrast():
    pair = vec(d16=1.0, d47=0.0)
    profile = vec(d16=1.0, d47=0.0, d60=1.0, d3=0.0)  # 60 and 3: labels the pair says nothing about
    for seed in range(20):
        cf = counterfactual.neutral_flip(pair, profile, np.random.default_rng(seed))
        changed = [i for i in range(N) if cf.profile[i] != profile[i]]
        assert len(changed) == 1 and changed[0] in (60, 3) and cf.profile[changed[0]] == 1.0 - profile[changed[0]]
        assert not cf.swap and cf.direction == pair
        assert space.agreement(pair, cf.profile) == space.agreement(pair, profile)  # the preference does not move
    # No label shown on a neutral dimension: one is added there, never on a contrasted one.
    cf = counterfactual.neutral_flip(pair, vec(d16=1.0, d47=0.0), np.random.default_rng(0))
    (dim,) = [i for i in range(N) if cf.profile[i] != vec(d16=1.0, d47=0.0)[i]]
    assert pair[dim] == space.NEUTRAL and cf.profile[dim] in (space.NEGATIVE, space.POSITIVE)
    assert counterfactual.neutral_flip([1.0] * N, [1.0] * N, np.random.default_rng(0)) is None


def test_contrast_flip_turns_the_profile_to_the_rejected_response_and_swaps():
    pair = vec(d16=1.0, d47=0.0, d50=1.0)
    profile = vec(d16=1.0, d47=0.0, d50=1.0, d60=1.0)
    for seed in range(20):
        cf = counterfactual.contrast_flip(pair, profile, np.random.default_rng(seed))
        assert cf.swap and cf.direction == vec(d16=0.0, d47=1.0, d50=0.0)
        assert space.agreement(pair, cf.profile) < 0 < space.agreement(cf.direction, cf.profile)
        flipped = [i for i in range(N) if cf.profile[i] != profile[i]]
        assert len(flipped) == 2 and all(pair[i] != space.NEUTRAL for i in flipped)  # the fewest that turn it
        assert cf.profile[60] == 1.0  # labels the pair does not contrast stay
    # The reader of the eval sets agrees with the rule used here.
    assert readers.profile(np.array([pair]), np.array([cf.profile]))[0] == 0.0
    assert counterfactual.contrast_flip(vec(), profile, np.random.default_rng(0)) is None  # nothing contrasted


def test_augmented_pba_train_rows_keep_or_swap_the_pair_and_are_marked(tokenizer):
    recs = records(30)
    plain = format_records(recs, "pba", tokenizer, fmt(), SPACE)
    rows = format_records(recs, "pba", tokenizer, fmt(neutral=0.5, contrast=0.5), SPACE)
    own = rows[rows["counterfactual"] == ""].reset_index(drop=True)
    assert own.drop(columns="counterfactual").astype(str).equals(plain.drop(columns="counterfactual").astype(str))
    kinds = rows["counterfactual"].value_counts()
    assert 0 < kinds["neutral"] < 30 and 0 < kinds["contrast"] < 30
    by_record = own.set_index("record_id")
    for row in rows[rows["counterfactual"] != ""].itertuples():
        base = by_record.loc[row.record_id]
        assert row.example_id == f"{row.record_id}~{row.counterfactual}" and row.mode == base["mode"]
        shown = space.parse_profile(row.profile)
        if row.counterfactual == "neutral":
            assert list(row.chosen_ids) == list(base["chosen_ids"]) and list(row.rejected_ids) == list(base["rejected_ids"])
            assert list(row.direction) == list(base["direction"]) and row.profile != base["profile"]
            assert space.agreement(row.direction, shown) == space.agreement(base["direction"], space.parse_profile(base["profile"]))
        else:
            assert list(row.chosen_ids) == list(base["rejected_ids"]) and list(row.rejected_ids) == list(base["chosen_ids"])
            assert space.agreement(base["direction"], shown) < 0 < space.agreement(row.direction, shown)
    gate = gate_examples("t", gate_frame(rows, 30), 2048)
    assert gate.success
    # ICA and the other splits are never augmented.
    assert "counterfactual" not in format_records(recs, "ica", tokenizer, fmt(1.0, 1.0), SPACE)
    val = format_records(records(10, split="val"), "pba", tokenizer, fmt(1.0, 1.0), SPACE)
    assert len(val) == 10 and (val["counterfactual"] == "").all()


def test_draws_are_seeded_per_record(tokenizer):
    recs = records(20)
    one = format_records(recs, "pba", tokenizer, fmt(0.5, 0.5, seed=1), SPACE)
    again = format_records(recs, "pba", tokenizer, fmt(0.5, 0.5, seed=1), SPACE)
    assert one.astype(str).equals(again.astype(str))
    # Per-record streams: a record's counterfactuals do not depend on the records beside it.
    alone = format_records(recs[5:6], "pba", tokenizer, fmt(0.5, 0.5, seed=1), SPACE)
    assert alone.astype(str).equals(one[one["record_id"] == recs[5]["record_id"]].reset_index(drop=True).astype(str))
    other = format_records(recs, "pba", tokenizer, fmt(0.5, 0.5, seed=2), SPACE)
    assert not other["example_id"].equals(one["example_id"]) or not other["profile"].equals(one["profile"])


def test_a_counterfactual_row_without_its_record_fails_the_gate(tokenizer):
    rows = format_records(records(6), "pba", tokenizer, fmt(1.0, 1.0), SPACE)
    assert gate_examples("t", gate_frame(rows, 6), 2048).success
    orphan = rows[~((rows["counterfactual"] == "") & (rows["record_id"] == rows["record_id"].iloc[0]))]
    assert not gate_examples("t", gate_frame(orphan, 6), 2048).success
    in_val = rows.assign(split="val")
    assert not gate_examples("t", gate_frame(in_val, 6), 2048).success


def test_shares_must_be_shares():
    with pytest.raises(ConfigError, match="format.counterfactual.neutral"):
        parse(CounterfactualConfig, {"neutral": 1.5}, "format.counterfactual")


def test_flipped_labels_show_only_the_change():
    pair = vec(d16=1.0, d47=0.0, d50=1.0)
    profile = vec(d16=1.0, d47=0.0, d50=1.0, d60=1.0, d3=0.0)
    for seed in range(10):
        neutral = counterfactual.neutral_flip(pair, profile, np.random.default_rng(seed), labels="flipped")
        (dim,) = [i for i in range(N) if neutral.profile[i] != space.NEUTRAL]
        assert dim in (60, 3) and neutral.profile[dim] == 1.0 - profile[dim] and not neutral.swap
        assert space.agreement(pair, neutral.profile) == 0  # says nothing about the pair
        contrast = counterfactual.contrast_flip(pair, profile, np.random.default_rng(seed), labels="flipped")
        (dim,) = [i for i in range(N) if contrast.profile[i] != space.NEUTRAL]
        assert dim in (16, 47, 50) and contrast.profile[dim] == 1.0 - pair[dim] and contrast.swap
        assert space.agreement(pair, contrast.profile) == -1 and space.agreement(contrast.direction, contrast.profile) == 1
    with pytest.raises(ConfigError, match="format.counterfactual.labels"):
        parse(CounterfactualConfig, {"labels": "some"}, "format.counterfactual")


def test_poles_show_one_label_at_each_pole_and_present_the_pair_by_its_side():
    """format.counterfactual.poles: a neutral label's other pole keeps chosen / rejected; a contrasted label's
    other pole sits on the chosen side, so that pole presents the pair unswapped (each pole's row favours the
    response on its label's side)."""
    pair = vec(d16=1.0, d47=0.0, d50=1.0)
    profile = vec(d16=1.0, d47=0.0, d50=1.0, d60=1.0, d3=0.0)
    shares = {"neutral": 1.0, "contrast": 1.0}
    for seed in range(10):
        made = counterfactual.draw(pair, profile, shares, np.random.default_rng(seed), labels="flipped", poles=True)
        assert [m.kind for m in made] == ["neutral", "neutral_pole", "contrast", "contrast_pole"]
        for first, pole in (made[:2], made[2:]):
            (dim,) = np.flatnonzero(np.asarray(pole.profile) != space.NEUTRAL)
            assert first.profile[dim] == 1.0 - pole.profile[dim]  # the same label, the other pole
            assert space.agreement(pole.direction, pole.profile) == space.agreement(first.direction, first.profile)
        assert not made[1].swap and made[1].direction == pair
        assert not made[3].swap and made[3].direction == pair and space.agreement(pair, made[3].profile) == 1
    # Without poles the draws are those of before (the same stream).
    plain = counterfactual.draw(pair, profile, shares, np.random.default_rng(3), labels="flipped")
    assert [m.kind for m in plain] == ["neutral", "contrast"]
    with pytest.raises(ConfigError, match="format.counterfactual.poles"):
        parse(CounterfactualConfig, {"poles": True, "labels": "profile"}, "format.counterfactual")


def test_pole_rows_sit_beside_the_counterfactual_they_mirror(tokenizer):
    """Formatted PBA train rows with poles: every pole row has its mirrored counterfactual of the same record, and
    its own id (`<record>~<kind>_pole`); the gate passes."""
    frame = format_records(records(30), "pba", tokenizer, fmt(1.0, 1.0, labels="flipped", poles=True), SPACE)
    poles = frame[frame["counterfactual"].str.endswith("_pole")]
    assert len(poles) and set(poles["split"]) == {"train"}
    made = set(zip(frame["record_id"], frame["counterfactual"]))
    for row in poles.itertuples():
        assert (row.record_id, row.counterfactual.removesuffix("_pole")) in made
        assert row.example_id == counterfactual.example_id(row.record_id, row.counterfactual)
    assert gate_examples("t", gate_frame(frame, 30), 2048).success
