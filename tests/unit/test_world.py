"""The synthetic world: traces per dimension, user sampling, choices, determinism, profile recovery."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from alignx import space
from alignx.config import PairsConfig, PersonasConfig, RunnerConfig
from alignx.contracts import SPLITS
from alignx.data import pair_stats, record_gates
from alignx.evaluation.metrics import accuracy
from alignx import readers
from alignx.world import banks, chunks, pairs, realizer, users

NOVEL_NAMES = ("camping", "weddings", "dance")
NOVEL = users.dim_indices(NOVEL_NAMES)


def test_every_dimension_and_pole_leaves_its_own_trace_and_zero_leaves_none():
    rng = np.random.default_rng(0)
    for d in range(space.N_DIMS):
        for sign in (-1, 1):
            intensity = np.zeros((1, space.N_DIMS), dtype=np.int8)
            intensity[0, d] = sign
            text = realizer.render_responses(rng, intensity, ["tea"])[0]
            assert any(m in text for m in banks.MARKERS[d][sign > 0]), (d, sign, text)
            assert not any(m in text for m in banks.MARKERS[d][sign < 0]), (d, sign, text)
    empty = realizer.render_responses(rng, np.zeros((50, space.N_DIMS), dtype=np.int8), ["tea"] * 50)
    every_marker = [m for d in range(space.N_DIMS) for pole in banks.MARKERS[d] for m in pole]
    assert not any(m in text for text in empty for m in every_marker)


def test_length_moves_with_the_concise_detailed_dimension_only():
    rng = np.random.default_rng(0)
    n = 200
    base = np.zeros((n, space.N_DIMS), dtype=np.int8)
    concise, detailed = base.copy(), base.copy()
    concise[:, realizer.LENGTH_DIM], detailed[:, realizer.LENGTH_DIM] = 1, -1
    lengths = {k: np.mean([len(t.split()) for t in realizer.render_responses(rng, v, ["tea"] * n)])
               for k, v in (("concise", concise), ("none", base), ("detailed", detailed))}  # fmt: skip
    assert lengths["concise"] < lengths["none"] < lengths["detailed"]


def test_a_minimal_pair_differs_only_in_the_markers_of_its_contrasted_dimensions():
    rng = np.random.default_rng(2)
    prefs = np.zeros((300, space.N_DIMS), dtype=np.int8)
    for row in prefs:  # 2 dimensions of each pole per user, never the length dimension
        dims = rng.choice([d for d in range(space.N_DIMS) if d != realizer.LENGTH_DIM], 4, replace=False)
        row[dims] = [1, 1, -1, -1]
    out = pairs.sample_pairs(rng, prefs, np.zeros(len(prefs), bool), PairsConfig(shared_dims=(1, 2)))
    chosen, rejected = realizer.render_pairs(rng, out["chosen"], out["rejected"], ["tea"] * len(prefs))
    for i, (c, r) in enumerate(zip(chosen, rejected)):
        contrast = np.flatnonzero(out["chosen"][i] != out["rejected"][i])
        assert len(contrast) >= 2
        for d in contrast:  # blank out each contrasted dimension's marker, one pole in each response
            c = _blank(c, banks.MARKERS[d][bool(out["chosen"][i, d] > 0)])
            r = _blank(r, banks.MARKERS[d][bool(out["rejected"][i, d] > 0)])
        assert c == r  # everything else (opener, closer, shared markers, order) is the same text
    with pytest.raises(ValueError, match="same dimensions"):
        realizer.render_pairs(rng, out["chosen"][:1], np.zeros_like(out["chosen"][:1]), ["tea"])


def _blank(text: str, phrases: tuple[str, ...]) -> str:
    found = [m for m in phrases if m in text]
    assert len(found) == 1, (text, phrases)
    return text.replace(found[0], "<marker>")


def test_users_are_sparse_balanced_and_novel_dimensions_stay_with_novel_users():
    rng = np.random.default_rng(1)
    spec = PersonasConfig(active_dims=(8, 30), novel_dims=NOVEL_NAMES, novel_active=(2, 3))
    ordinary = users.sample_directions(rng, 2000, spec, novel=False)
    novel = users.sample_directions(rng, 500, spec, novel=True)
    active = (ordinary != 0.5).sum(axis=1)
    assert active.min() >= 8 and active.max() <= 30
    assert (ordinary[:, list(NOVEL)] == 0.5).all()
    assert ((novel[:, list(NOVEL)] != 0.5).sum(axis=1) >= 2).all()
    share_positive = (ordinary == 1).sum() / (ordinary != 0.5).sum()
    assert 0.45 < share_positive < 0.55  # no pole is better for everyone
    # ... and within each user the poles balance (one more of either when odd): no overall tone per user.
    for vectors in (ordinary, novel):
        imbalance = (vectors == 1).sum(axis=1) - (vectors == 0).sum(axis=1)
        assert np.abs(imbalance).max() <= 1
    assert users.render_demo(rng, ordinary[0], spec)


def test_unknown_novel_dimension_name_is_reported():
    with pytest.raises(ValueError, match="no_such_dim"):
        users.dim_indices(["camping", "no_such_dim"])


def test_pair_direction_compares_chosen_and_rejected_and_noiseless_choice_follows_utility():
    rng = np.random.default_rng(2)
    prefs = (2 * users.sample_directions(rng, 3000, PersonasConfig(), novel=False) - 1).astype(np.int8)
    out = pairs.sample_pairs(rng, prefs, np.zeros(3000, bool), PairsConfig(choice_noise=0.0))
    delta = out["chosen"].astype(int) - out["rejected"]
    assert np.array_equal(out["direction"], np.where(delta > 0, 1.0, np.where(delta < 0, 0.0, 0.5)))
    utility = (delta * prefs).sum(axis=1)
    assert (utility >= 0).all()  # the noiseless user never picks the worse response
    non_tie = utility != 0
    assert out["agree"][non_tie].all()
    varied = ((out["chosen"] != 0) | (out["rejected"] != 0)).sum(axis=1)
    assert varied.min() >= 1 and (varied >= 2).mean() > 0.5  # usually several dims at once


def _chunk(seed: int, n_users: int = 60):
    rng = np.random.default_rng(seed)
    spec = PersonasConfig(novel_dims=NOVEL_NAMES)
    directions = users.sample_directions(rng, n_users, spec, novel=False)
    demos = [users.render_demo(rng, d, spec) for d in directions]
    ids = [f"u{i:07d}" for i in range(n_users)]
    chunk = pairs.generate_chunk(
        rng, ids, ["train"] * n_users, directions, demos, np.zeros(n_users, bool), PairsConfig(), NOVEL
    )
    return (chunk.table, pair_stats.chunk_stats(chunk), chunk.history), directions


def test_chunk_is_deterministic_valid_and_free_of_shortcuts():
    (table, stats, history), directions = _chunk(3)
    (again, _, _), _ = _chunk(3)
    (other, _, _), _ = _chunk(4)
    assert table.equals(again) and not table.equals(other)
    assert table.num_rows == 60 * 8 and stats.records == 480
    assert record_gates.gate_records("chunk", table, splits=SPLITS).success
    assert 0.4 < stats.longer_wins / stats.records < 0.6
    assert 0.4 < stats.first_wins / stats.records < 0.6
    assert stats.bayes_agree / stats.records > 0.8
    recovery = pair_stats.profile_recovery(directions, history, (0.6, 0.4))
    # The history's mean recovers the user's poles: inferred dims are mostly the user's own, right pole.
    assert recovery.recovery_correct / recovery.recovery_inferred > 0.5
    assert recovery.recovery_agree / (60 * space.N_DIMS) > 0.7


def test_chunk_rng_depends_on_seed_split_and_index_only():
    draw = lambda *key: chunks.chunk_rng(*key).random(3).tolist()  # noqa: E731
    assert draw(0, "train", 1) == draw(0, "train", 1)
    assert len({tuple(draw(*k)) for k in [(0, "train", 1), (1, "train", 1), (0, "val", 1), (0, "train", 2)]}) == 4


def test_runner_kind_is_checked():
    with pytest.raises(ValueError, match="runner.kind"):
        chunks.task_runner(RunnerConfig(kind="spark"))


def test_pairs_contrast_both_poles_equally_so_the_tone_reader_is_at_chance():
    (table, stats, _), directions = _chunk(5, n_users=200)
    direction = np.stack(table.column("Preference Direction").to_numpy(zero_copy_only=False))
    # Every pair shows as many positive as negative traits on each side: its direction vector balances.
    assert ((direction == 1).sum(axis=1) == (direction == 0).sum(axis=1)).all()
    assert stats.tone_oracle / stats.records == 0.5
    user = np.repeat(directions, 8, axis=0)
    assert accuracy(readers.tone(direction, user)) == 0.5
    # A perfect reader of the user's true vector still sees the preference (up to the choice noise).
    assert accuracy(readers.profile(direction, user)) > 0.9


def test_no_record_outside_the_novel_split_carries_a_novel_label():
    (table, _, _), _ = _chunk(6, n_users=300)
    assert not record_gates.novel_labels(table, NOVEL).any()
    assert record_gates.gate_records("chunk", table, splits=SPLITS, novel_dims=NOVEL).success
    # The gate reads records, not users: a train record with a novel label (target or history item) fails it.
    direction = table.column("Preference Direction").to_pylist()
    direction[0] = list(direction[0])
    direction[0][NOVEL[0]] = 1.0
    bad = table.set_column(table.schema.get_field_index("Preference Direction"), "Preference Direction",
                           pa.array(direction, table.schema.field("Preference Direction").type))
    result = record_gates.gate_records("chunk", bad, splits=SPLITS, novel_dims=NOVEL)
    assert not result.success and any(f.column == "novel_dims_neutral" for f in result.failures)
