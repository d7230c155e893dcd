"""Training inputs are checked before DeepSpeed starts: a missing, corrupted or mismatched reference file
fails in seconds, naming the file and what is wrong; the batch order is deterministic per step."""

import numpy as np
import pandas as pd
import pytest

from tests.toy import make_examples
from alignx.training.data import Batches, TrainingDataError, load_split
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
