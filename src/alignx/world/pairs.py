"""Pairs, comments and user choices of the synthetic world, and one chunk of AlignX records.

A pair contrasts as many of the user's positive-pole dimensions as negative-pole ones: one response shows
the user's pole on all of them, the other the opposite poles, so both show as many positive as negative
traits and no overall tone tells them apart (only which dimension carries which pole does). A few dimensions
the user is indifferent to appear in both responses at the same pole (shared content, neutral in the
direction vector). The user picks by a noisy utility (logistic in utility / noise), so the Bayes-optimal
accuracy is known. UGC comments show some of the user's poles plus at most one indifferent dimension.

Novel dimensions (params personas.novel_dims) appear only in novel users' pairs and comments: never as
shared or noise content of anyone else, so no train/val/test record carries a novel label.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from alignx import space
from alignx import readers
from alignx.world import records, realizer
from alignx.world.records import PAIR_ITEM, UGC_ITEM


@dataclass(frozen=True)
class PairSpec:
    """How records are drawn (the synthetic part of the `pairs` params section)."""

    records_per_user: int = 8
    contrast_per_sign: tuple[int, int] = (1, 2)  # inclusive range of the user's dims of EACH pole a pair contrasts
    shared_dims: tuple[int, int] = (0, 1)  # inclusive range of indifferent dims both responses show alike
    comment_dims: tuple[int, int] = (2, 4)  # inclusive range of the user's dimensions a UGC comment shows
    ugc_items: tuple[int, int] = (1, 4)  # inclusive range of UGC items per record (drawn from a pool of 4)
    pair_items: tuple[int, int] = (1, 4)  # inclusive range of PAIR items per record (drawn from a pool of 4)
    choice_noise: float = 0.5  # logistic temperature of the choice; 0 = always the higher utility
    minimal_pairs: bool = True  # chosen and rejected share every random wording choice (realizer.render_pairs)
    novel_dims: tuple[int, ...] = ()  # favoured in the pairs and comments of novel users
    novel_boost: float = 0.3  # sampling-key bonus of novel dimensions for novel users


@dataclass
class ChunkStats:
    """What one chunk contributes to the stage's metrics (summed over chunks)."""

    records: int = 0
    first_wins: int = 0
    longer_wins: int = 0
    shorter_wins: int = 0
    bayes_agree: float = 0.0
    utility_ties: int = 0
    users: int = 0
    recovery_true: int = 0  # user's non-neutral dims
    recovery_hit: int = 0  # ... recovered with the right pole by infer_profile
    recovery_inferred: int = 0  # non-neutral dims of the inferred profiles
    recovery_correct: int = 0  # ... matching the user's pole
    recovery_agree: int = 0  # all dims (90 per user) where inferred == true
    tone_oracle: float = 0.0  # summed credit of the tone reader given the pair's own direction (evaluation.readers)
    tone_user: float = 0.0  # ... given the user's true vector
    tone_user_records: int = 0  # records the user's vector was known for
    histogram: np.ndarray = field(default_factory=lambda: np.zeros((space.N_DIMS, 3), dtype=np.int64))

    def add(self, other: "ChunkStats") -> None:
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)


def _pick(rng: np.random.Generator, allowed: np.ndarray, counts: np.ndarray, bonus: np.ndarray | None) -> np.ndarray:
    """Per row, a mask of `counts[i]` random columns among `allowed[i]` (bonus raises some columns' odds)."""
    keys = rng.random(allowed.shape) + (0.0 if bonus is None else bonus)
    keys = np.where(allowed, keys, -1.0)
    rank = (-keys).argsort(axis=1, kind="stable").argsort(axis=1, kind="stable")
    return allowed & (rank < counts[:, None])


def _range(rng: np.random.Generator, bounds: tuple[int, int], n: int) -> np.ndarray:
    return rng.integers(bounds[0], bounds[1] + 1, size=n)


def _bonus(novel: np.ndarray, spec: PairSpec) -> np.ndarray | None:
    if not spec.novel_dims or not novel.any():
        return None
    bonus = np.zeros((len(novel), space.N_DIMS))
    bonus[np.ix_(novel, list(spec.novel_dims))] = spec.novel_boost
    return bonus


def _indifferent(prefs: np.ndarray, spec: PairSpec) -> np.ndarray:
    """Dimensions a row's user is indifferent to that may appear as noise: never a novel dimension."""
    allowed = prefs == 0
    allowed[:, list(spec.novel_dims)] = False
    return allowed


def sample_pairs(rng: np.random.Generator, prefs: np.ndarray, novel: np.ndarray, spec: PairSpec) -> dict:
    """Intensities of responses A and B, the choice and its diagnostics for users `prefs` ((n, 90) in -1/0/1)."""
    n = len(prefs)
    per_sign, bonus = _range(rng, spec.contrast_per_sign, n), _bonus(novel, spec)
    # As many positive- as negative-pole dims (a user has at least 2 of each, personas.active_dims >= 4).
    contrast = _pick(rng, prefs > 0, per_sign, bonus) | _pick(rng, prefs < 0, per_sign, bonus)
    user_poles_first = rng.random(n) < 0.5  # which position shows the user's poles: no order shortcut
    a = (np.where(contrast, prefs, 0) * np.where(user_poles_first, 1, -1)[:, None]).astype(np.int8)
    b = -a
    shared = _pick(rng, _indifferent(prefs, spec), _range(rng, spec.shared_dims, n), None)
    shared_sign = rng.choice(np.array([-1, 1], dtype=np.int8), size=(n, space.N_DIMS))
    a = np.where(shared, shared_sign, a)
    b = np.where(shared, shared_sign, b)
    utility = ((a.astype(np.int32) - b) * prefs).sum(axis=1)
    if spec.choice_noise > 0:
        p_a = 1.0 / (1.0 + np.exp(-utility / spec.choice_noise))
    else:
        p_a = np.where(utility == 0, 0.5, (utility > 0).astype(float))
    chosen_a = rng.random(n) < p_a
    agree = np.where(utility == 0, 0.5, (utility > 0) == chosen_a)
    chosen = np.where(chosen_a[:, None], a, b)
    rejected = np.where(chosen_a[:, None], b, a)
    return {"a": a, "b": b, "chosen_a": chosen_a, "chosen": chosen, "rejected": rejected,
            "direction": realizer.direction_of(chosen.astype(np.int16) - rejected), "agree": agree,
            "ties": int((utility == 0).sum())}  # fmt: skip


def sample_comments(rng: np.random.Generator, prefs: np.ndarray, novel: np.ndarray, spec: PairSpec) -> np.ndarray:
    """Intensities of UGC comments: some of the user's dimensions at their pole, plus 0-1 noise dimension."""
    n = len(prefs)
    own = _pick(rng, prefs != 0, _range(rng, spec.comment_dims, n), _bonus(novel, spec))
    noise = _pick(rng, _indifferent(prefs, spec), rng.integers(0, 2, size=n), None)
    noise_sign = rng.choice(np.array([-1, 1], dtype=np.int8), size=(n, space.N_DIMS))
    return np.where(own, prefs, np.where(noise, noise_sign, 0)).astype(np.int8)


def _subsets(rng: np.random.Generator, n: int, pool: int, bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """For n records, a random subset (random order) of a user's pool of `pool` items: (offsets, pool index)."""
    count = _range(rng, bounds, n)
    order = rng.random((n, pool)).argsort(axis=1)
    index = np.concatenate([order[i, : count[i]] for i in range(n)]) if n else np.zeros(0, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(count)])
    return offsets, index


def _render_pair(rng: np.random.Generator, pair: dict, words: list[str], spec: PairSpec) -> tuple[list[str], list[str]]:
    """The texts of chosen and rejected: a minimal pair (one draw of wording for both), or drawn apart."""
    if spec.minimal_pairs:
        return realizer.render_pairs(rng, pair["chosen"], pair["rejected"], words)
    return realizer.render_responses(rng, pair["chosen"], words), realizer.render_responses(rng, pair["rejected"], words)


POOL = records.MAX_ITEMS  # history items per user; each record shows a subset


def generate_chunk(
    rng: np.random.Generator,
    user_ids: list[str],
    splits: list[str],
    directions: np.ndarray,
    demos: list[str],
    novel: np.ndarray,
    spec: PairSpec,
) -> tuple[pa.Table, ChunkStats, np.ndarray]:
    """All records of a chunk of users, their stats, and each user's first-record history directions.

    Returns (table, stats, history) where history is (n_users, up to 8, 90) float32 padded with NaN rows,
    used for the profile-recovery check.
    """
    n_users, rpu = len(user_ids), spec.records_per_user
    prefs = (2 * directions - 1).round().astype(np.int8)  # 0 / 0.5 / 1 -> -1 / 0 / +1
    # History pools: POOL comments and POOL judged pairs per user.
    pool_user = np.repeat(np.arange(n_users), POOL)
    ugc_int = sample_comments(rng, prefs[pool_user], novel[pool_user], spec)
    ugc_words = realizer.topic_words(rng, len(pool_user))
    ugc_posts, ugc_text = realizer.render_posts(rng, ugc_words), realizer.render_responses(rng, ugc_int, ugc_words)
    ugc_dir = realizer.direction_of(ugc_int)
    hp = sample_pairs(rng, prefs[pool_user], novel[pool_user], spec)
    hp_words = realizer.topic_words(rng, len(pool_user))
    hp_posts = realizer.render_posts(rng, hp_words)
    hp_chosen, hp_rejected = _render_pair(rng, hp, hp_words, spec)
    # The records themselves.
    rec_user = np.repeat(np.arange(n_users), rpu)
    pr = sample_pairs(rng, prefs[rec_user], novel[rec_user], spec)
    words = realizer.topic_words(rng, len(rec_user))
    posts = realizer.render_posts(rng, words)
    chosen, rejected = _render_pair(rng, pr, words, spec)
    ugc_off, ugc_idx = _subsets(rng, len(rec_user), POOL, spec.ugc_items)
    pair_off, pair_idx = _subsets(rng, len(rec_user), POOL, spec.pair_items)
    ugc_rows = np.repeat(rec_user, np.diff(ugc_off)) * POOL + ugc_idx
    pair_rows = np.repeat(rec_user, np.diff(pair_off)) * POOL + pair_idx
    take = lambda values, rows: pa.array(values, pa.string()).take(pa.array(rows))  # noqa: E731
    ugc_col = records.items(
        ugc_off,
        {"prompt": take(ugc_posts, ugc_rows), "comment": take(ugc_text, ugc_rows),
         records.DIRECTION: records.vectors(ugc_dir[ugc_rows])},
        UGC_ITEM,
    )  # fmt: skip
    pair_col = records.items(
        pair_off,
        {"prompt": take(hp_posts, pair_rows), "chosen": take(hp_chosen, pair_rows),
         "rejected": take(hp_rejected, pair_rows), records.DIRECTION: records.vectors(hp["direction"][pair_rows])},
        PAIR_ITEM,
    )  # fmt: skip
    record_ids = [f"{user_ids[u]}-{k:03d}" for u in range(n_users) for k in range(rpu)]
    table = records.table(
        record_ids,
        take(user_ids, rec_user),
        take(splits, rec_user),
        posts,
        chosen,
        rejected,
        records.vectors(pr["direction"]),
        take(demos, rec_user),
        ugc_col,
        pair_col,
    )
    stats = _stats(pr, chosen, rejected, directions[rec_user])
    # First record of each user: the history PBA would see, for the profile-recovery check.
    first = np.arange(n_users) * rpu
    history = np.full((n_users, 2 * POOL, space.N_DIMS), np.nan, dtype=np.float32)
    for u, r in enumerate(first.tolist()):
        shown = [ugc_dir[row] for row in ugc_rows[ugc_off[r] : ugc_off[r + 1]]]
        shown += [hp["direction"][row] for row in pair_rows[pair_off[r] : pair_off[r + 1]]]
        history[u, : len(shown)] = shown
    return table, stats, history


def _stats(pr: dict, chosen: list[str], rejected: list[str], user_vectors: np.ndarray) -> ChunkStats:
    """Label balance, shortcut, tone and Bayes figures of a chunk's records (`user_vectors`: each record's user)."""
    chosen_len = np.fromiter(map(len, chosen), dtype=np.int64, count=len(chosen))
    rejected_len = np.fromiter(map(len, rejected), dtype=np.int64, count=len(rejected))
    direction = pr["direction"]
    histogram = np.stack([(direction == v).sum(axis=0) for v in space.VALUES], axis=1)
    return ChunkStats(
        records=len(chosen),
        first_wins=int(pr["chosen_a"].sum()),
        longer_wins=int((chosen_len > rejected_len).sum()),
        shorter_wins=int((chosen_len < rejected_len).sum()),
        bayes_agree=float(pr["agree"].sum()),
        utility_ties=pr["ties"],
        histogram=histogram,
        tone_oracle=float(readers.tone(direction, direction).sum()),
        tone_user=float(readers.tone(direction, user_vectors).sum()),
        tone_user_records=len(chosen),
    )


def profile_recovery(directions: np.ndarray, history: np.ndarray) -> ChunkStats:
    """How well PBA's `infer_profile` over each user's shown history recovers the user's true vector."""
    stats = ChunkStats(users=len(directions))
    for truth, items in zip(directions, history):
        shown = items[~np.isnan(items[:, 0])]
        inferred = np.array(space.infer_profile(shown.tolist()), dtype=np.float32)
        true_on, inferred_on = truth != 0.5, inferred != 0.5
        stats.recovery_true += int(true_on.sum())
        stats.recovery_hit += int((true_on & (inferred == truth)).sum())
        stats.recovery_inferred += int(inferred_on.sum())
        stats.recovery_correct += int((inferred_on & (inferred == truth)).sum())
        stats.recovery_agree += int((inferred == truth).sum())
    return stats
