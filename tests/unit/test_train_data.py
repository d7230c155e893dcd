"""Training inputs are checked before DeepSpeed starts: a missing, corrupted or mismatched reference file
fails in seconds, naming the file and what is wrong; the batch order is deterministic per step."""

import numpy as np
import pandas as pd
import pytest

from tests.toy import make_examples
from alignx.training.data import (Batches, TrainingDataError, consistency_groups, counterfactual_pairs, load_split,
                                  pair_positions, plan, rows_read, sequence_lengths)
from alignx.training.trainer import TrainConfig, TrainPaths, train


@pytest.fixture
def inputs(tmp_path):
    examples = make_examples(12, 64, (3, 6), (2, 5))
    fmt, ref = tmp_path / "train.parquet", tmp_path / "ref.parquet"
    examples.to_parquet(fmt)
    reference = pd.DataFrame({"example_id": examples["example_id"], "ref_chosen": -np.arange(12.0), "ref_rejected": -np.arange(12.0)})
    reference.to_parquet(ref)
    return fmt, ref, reference


def _train(tmp_path, fmt, ref):
    paths = TrainPaths(str(fmt), str(ref), base=str(tmp_path / "no-base"), export=str(tmp_path / "out"),
                       checkpoints=str(tmp_path / "ckpt"))
    train(TrainConfig(global_batch=4, micro_batch=2), paths)


def test_valid_inputs_join_reference_by_id(inputs):
    fmt, ref, reference = inputs
    shuffled = reference.sample(frac=1, random_state=0)
    shuffled.to_parquet(ref)
    frame = load_split(fmt, ref)
    assert list(frame["ref_chosen"]) == list(-np.arange(12.0))  # joined by id, not by row position


@pytest.mark.parametrize(
    "damage, message",
    [
        ("missing", "reference log-probs file not found"),
        ("corrupted", "not readable parquet"),
        ("ids", "example ids do not match"),
        ("nan", "'ref_rejected' is not a finite number"),
        ("column", "lacks column(s) ['ref_chosen']"),
    ],
)
def test_bad_reference_fails_before_training(tmp_path, inputs, damage, message):
    fmt, ref, reference = inputs
    if damage == "missing":
        ref.unlink()
    elif damage == "corrupted":
        ref.write_bytes(ref.read_bytes()[: len(ref.read_bytes()) // 2])
    elif damage == "ids":
        reference.assign(example_id=reference["example_id"].str.replace("ex000003", "other")).to_parquet(ref)
    elif damage == "nan":
        reference.assign(ref_rejected=reference["ref_rejected"].where(reference.index != 5)).to_parquet(ref)
    elif damage == "column":
        reference.drop(columns="ref_chosen").to_parquet(ref)
    with pytest.raises(TrainingDataError) as err:
        _train(tmp_path, fmt, ref)
    assert str(ref) in str(err.value) and message in str(err.value)
    if damage == "ids":
        assert "ex000003" in str(err.value) and "other" in str(err.value)
    if damage == "nan":
        assert "rows [5]" in str(err.value)
    # The base model folder does not exist either: reaching the model or DeepSpeed would raise another error.
    assert not (tmp_path / "ckpt").exists() and not (tmp_path / "out").exists()


def test_batch_order_depends_only_on_seed_and_step():
    batches = Batches(n_examples=40, global_batch=8, seed=3)
    assert batches.steps_per_epoch == 5
    epoch = np.concatenate([batches.step_indices(s) for s in range(5)])
    assert sorted(epoch) == list(range(40))  # an epoch sees every example once
    assert not np.array_equal(batches.step_indices(0), batches.step_indices(5))  # a new permutation per epoch
    assert np.array_equal(Batches(40, 8, 3).step_indices(7), batches.step_indices(7))
    lengths = np.arange(40)
    micro = batches.micro_batches(2, lengths, rank=1, world=2, micro=2)
    assert [len(m) for m in micro] == [2, 2]
    both = np.concatenate(micro + batches.micro_batches(2, lengths, rank=0, world=2, micro=2))
    assert sorted(both) == sorted(batches.step_indices(2))  # the ranks split the step's examples


def test_length_grouping_keeps_the_epoch_and_cuts_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 1000, size=203)
    plain, grouped = Batches(203, 8, 5), Batches(203, 8, 5, group_steps=5, lengths=lengths)
    steps = plain.steps_per_epoch  # 25: the last 3 examples of each epoch's permutation are dropped
    assert grouped.steps_per_epoch == steps
    for epoch in (0, 1):
        seen = [grouped.step_indices(epoch * steps + s) for s in range(steps)]
        # The same examples as the ungrouped epoch (one permutation per epoch), each once, steps of 8.
        assert sorted(np.concatenate(seen)) == sorted(np.concatenate([plain.step_indices(epoch * steps + s) for s in range(steps)]))
        assert all(len(s) == 8 for s in seen)
    spread = lambda b: np.mean([np.ptp(lengths[b.step_indices(s)]) for s in range(steps)])  # noqa: E731
    assert spread(grouped) < spread(plain) / 3  # a step holds examples of similar length
    # Within a 5-step window the steps run in a random order, not shortest first.
    window = [lengths[grouped.step_indices(s)].mean() for s in range(5)]
    assert window != sorted(window)
    assert np.array_equal(Batches(203, 8, 5, 5, lengths).step_indices(7), grouped.step_indices(7))  # deterministic
    with pytest.raises(ValueError, match="needs the lengths"):
        Batches(203, 8, 5, group_steps=5)


def test_a_reference_of_the_rows_read_suffices_and_a_missing_read_row_fails_first(tmp_path, inputs):
    """`reference` scores only the rows a run reads; a run that would read an unscored row fails before DeepSpeed,
    naming the example."""
    fmt, ref, reference = inputs
    reference[reference["example_id"] != "ex000003"].to_parquet(ref)
    assert np.isnan(load_split(fmt, ref).set_index("example_id").loc["ex000003", "ref_chosen"])
    with pytest.raises(TrainingDataError) as err:
        _train(tmp_path, fmt, ref)  # 12 examples, global batch 4: one epoch reads every row
    assert "1 examples this run reads have no reference" in str(err.value) and "ex000003" in str(err.value)
    assert not (tmp_path / "ckpt").exists()


def _with_counterfactuals(n: int, seed: int = 0) -> pd.DataFrame:
    """`n` originals, each followed by a neutral and / or contrast counterfactual, some with their other pole (ids
    as format writes them)."""
    from alignx.inputs.counterfactual import POLE_OF, example_id

    rng = np.random.default_rng(seed)
    base = make_examples(n, 64, (3, 30), (2, 5), seed)
    rows = []
    for row in base.to_dict("records"):
        rows.append(row)
        for kind in ("neutral", "contrast"):
            if rng.random() < 0.5:
                rows.append(row | {"example_id": example_id(row["record_id"], kind)})
                if rng.random() < 0.5:
                    rows.append(row | {"example_id": example_id(row["record_id"], POLE_OF[kind])})
    return pd.DataFrame(rows)


def test_counterfactual_pairs_name_each_rows_partner():
    """A counterfactual is tied to its original; a pole to the counterfactual it mirrors (the same label at the
    other pole), never to the original."""
    frame = _with_counterfactuals(12)
    original, kind = counterfactual_pairs(frame["example_id"])
    ids = frame["example_id"].to_numpy()
    assert any(i.endswith("_pole") for i in ids)
    for row, (o, k) in enumerate(zip(original, kind)):
        if "~" in ids[row]:
            record, name = ids[row].split("~")
            mirrored = name.removesuffix("_pole")
            assert ids[o] == (f"{record}~{mirrored}" if name.endswith("_pole") else record)
            assert k == 1 + ("neutral", "contrast", "neutral_pole", "contrast_pole").index(name)
        else:
            assert o == -1 and k == 0
    assert consistency_groups(make_examples(5, 64, (3, 6), (2, 5))["example_id"]) is None  # no counterfactuals
    assert pair_positions(np.array([4, 2, 3]), np.array([-1, -1, -1, 2, 2])).tolist() == [1, -1, 1]


@pytest.mark.parametrize("group_steps", [0, 3])
def test_paired_plan_keeps_an_original_with_its_counterfactuals(group_steps):
    """train.consistency: an original and its counterfactuals share a micro-batch of one rank in every step,
    every unit is seen once per epoch, and a step depends only on (seed, step) (a resumed run sees the same)."""
    frame = _with_counterfactuals(40)
    batches = plan(frame, global_batch=8, seed=3, group_steps=group_steps, paired=True)
    groups = consistency_groups(frame["example_id"])
    assert batches.n_examples == len(groups) == 40 and batches.steps_per_epoch == 5
    unit_of = np.empty(len(frame), dtype=int)
    for u, g in enumerate(groups):
        unit_of[g] = u
        assert "~" not in frame["example_id"].iloc[g[0]]  # the original leads its group
    lengths = sequence_lengths(frame)
    epoch = []
    for step in range(5):
        step_rows = batches.step_indices(step)
        parts = [m for rank in range(2) for m in batches.micro_batches(step, lengths, rank, world=2, micro=2)]
        assert len(parts) == 4  # global 8 units / (2 ranks x 2 units): 2 accumulation micro-batches per rank
        assert sorted(np.concatenate(parts)) == sorted(step_rows)
        for m in parts:
            assert len(set(unit_of[m])) == 2  # whole units: every row of a unit in this micro-batch
            assert all(sorted(groups[u].tolist()) == sorted(r for r in m if unit_of[r] == u) for u in set(unit_of[m]))
        epoch += list(step_rows)
    assert sorted(epoch) == list(range(len(frame)))  # every row once per epoch
    again = plan(frame, 8, 3, group_steps, paired=True)
    assert np.array_equal(again.step_indices(7), batches.step_indices(7))
    assert np.array_equal(rows_read(frame, 8, 3, group_steps, epochs=1, max_steps=2, paired=True),
                          np.unique(np.concatenate([batches.step_indices(s) for s in range(2)])))


def test_paired_plan_without_counterfactuals_is_the_plain_plan():
    """Consistency on for an aligner without counterfactual rows (ICA), or off: the plain plan, step for step."""
    frame = make_examples(40, 64, (3, 30), (2, 5))
    lengths = sequence_lengths(frame)
    for group_steps in (0, 3):
        plain = Batches(40, 8, 3, group_steps, lengths)
        for paired in (False, True):
            got = plan(frame, 8, 3, group_steps, paired)
            for step in range(7):
                assert np.array_equal(got.step_indices(step), plain.step_indices(step))
                assert all(np.array_equal(a, b) for a, b in zip(got.micro_batches(step, lengths, 0, 2, 2),
                                                                plain.micro_batches(step, lengths, 0, 2, 2)))
    with_cf = _with_counterfactuals(40)  # counterfactual rows present but consistency off: rows are the units
    assert plan(with_cf, 8, 3, 0).n_examples == len(with_cf)


def test_each_counterfactual_kind_has_its_own_tie_weight_and_neutral_rows_may_skip_dpo():
    """train.consistency weighs each kind's gap by its own key (the neutral poles tied, the contrast poles not),
    originals and rows without a partner weigh 0, and neutral_dpo false leaves neutral rows and their poles out of the
    DPO loss while every other row carries it."""
    from dataclasses import replace

    from alignx.config import ConsistencyConfig, TrainConfig
    from alignx.training.trainer import Pairs

    frame = _with_counterfactuals(30, seed=1)
    cfg = replace(TrainConfig(), consistency=ConsistencyConfig(neutral_pole=1.0, contrast=0.5, neutral_dpo=False))
    pairs = Pairs.of(frame, cfg)
    names = [i.split("~")[1] if "~" in i else "" for i in frame["example_id"]]
    expected = {"": 0.0, "neutral": 0.0, "neutral_pole": 1.0, "contrast": 0.5, "contrast_pole": 0.0}
    assert pairs.weight.tolist() == [expected[n] for n in names]
    assert pairs.targeted.tolist() == [not n.startswith("neutral") for n in names]
    assert {"neutral_pole", "contrast_pole"} <= set(names)
    with pytest.raises(ValueError, match="contrast_pole"):
        ConsistencyConfig(contrast_pole=-1.0)


def test_the_tie_ramps_from_zero_over_its_share_of_the_steps():
    """train.consistency.ramp: the weights' factor rises linearly from 0 over that share of the run, then stays 1;
    0 is full weight from the first step; a share outside [0, 1] is refused naming the key."""
    from alignx.config import ConsistencyConfig

    ramped = ConsistencyConfig(neutral_pole=4.0, ramp=0.5)
    assert [ramped.scale(s, 100) for s in (0, 25, 50, 99)] == [0.0, 0.5, 1.0, 1.0]
    assert ConsistencyConfig(neutral_pole=4.0, ramp=0.0).scale(0, 100) == 1.0
    with pytest.raises(ValueError, match="consistency.ramp"):
        ConsistencyConfig(ramp=1.5)
