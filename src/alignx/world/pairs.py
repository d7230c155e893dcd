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

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from alignx import space
from alignx.config import PairsConfig
from alignx.world import records, realizer
from alignx.world.records import PAIR_ITEM, UGC_ITEM


@dataclass(frozen=True)
class Chunk:
    """One generated chunk: its records, and the ground truth behind them that the table does not hold (for the
    `pairs` stage's statistics, alignx.data.pair_stats)."""

    table: pa.Table
    draws: dict  # sample_pairs() of the records: chosen_a, agree, ties, direction, ...
    chosen: list[str]  # the records' chosen and rejected texts
    rejected: list[str]
    user_vectors: np.ndarray  # (n_records, 90): each record's user's true direction vector
    history: np.ndarray  # (n_users, up to 8, 90) float32, NaN rows: each user's first-record history directions


def _pick(rng: np.random.Generator, allowed: np.ndarray, counts: np.ndarray, bonus: np.ndarray | None) -> np.ndarray:
    """Per row, a mask of `counts[i]` random columns among `allowed[i]` (bonus raises some columns' odds)."""
    keys = rng.random(allowed.shape) + (0.0 if bonus is None else bonus)
    keys = np.where(allowed, keys, -1.0)
    rank = (-keys).argsort(axis=1, kind="stable").argsort(axis=1, kind="stable")
    return allowed & (rank < counts[:, None])


def _range(rng: np.random.Generator, bounds: tuple[int, int], n: int) -> np.ndarray:
    return rng.integers(bounds[0], bounds[1] + 1, size=n)


def _bonus(novel: np.ndarray, cfg: PairsConfig, novel_dims: tuple[int, ...]) -> np.ndarray | None:
    if not novel_dims or not novel.any():
        return None
    bonus = np.zeros((len(novel), space.N_DIMS))
    bonus[np.ix_(novel, list(novel_dims))] = cfg.novel_boost
    return bonus


def _indifferent(prefs: np.ndarray, novel_dims: tuple[int, ...]) -> np.ndarray:
    """Dimensions a row's user is indifferent to that may appear as noise: never a novel dimension."""
    allowed = prefs == 0
    allowed[:, list(novel_dims)] = False
    return allowed


def sample_pairs(
    rng: np.random.Generator, prefs: np.ndarray, novel: np.ndarray, cfg: PairsConfig, novel_dims: tuple[int, ...] = ()
) -> dict:
    """Intensities of responses A and B, the choice and its diagnostics for users `prefs` ((n, 90) in -1/0/1), drawn
    as params `pairs` say; `novel_dims` (params personas.novel_dims) appear for `novel` users only."""
    n = len(prefs)
    per_sign, bonus = _range(rng, cfg.contrast_per_sign, n), _bonus(novel, cfg, novel_dims)
    # As many positive- as negative-pole dims (a user has at least 2 of each, personas.active_dims >= 4).
    contrast = _pick(rng, prefs > 0, per_sign, bonus) | _pick(rng, prefs < 0, per_sign, bonus)
    user_poles_first = rng.random(n) < 0.5  # which position shows the user's poles: no order shortcut
    a = (np.where(contrast, prefs, 0) * np.where(user_poles_first, 1, -1)[:, None]).astype(np.int8)
    b = -a
    shared = _pick(rng, _indifferent(prefs, novel_dims), _range(rng, cfg.shared_dims, n), None)
    shared_sign = rng.choice(np.array([-1, 1], dtype=np.int8), size=(n, space.N_DIMS))
    a = np.where(shared, shared_sign, a)
    b = np.where(shared, shared_sign, b)
    utility = ((a.astype(np.int32) - b) * prefs).sum(axis=1)
    if cfg.choice_noise > 0:
        p_a = 1.0 / (1.0 + np.exp(-utility / cfg.choice_noise))
    else:
        p_a = np.where(utility == 0, 0.5, (utility > 0).astype(float))
    chosen_a = rng.random(n) < p_a
    agree = np.where(utility == 0, 0.5, (utility > 0) == chosen_a)
    chosen = np.where(chosen_a[:, None], a, b)
    rejected = np.where(chosen_a[:, None], b, a)
    return {"a": a, "b": b, "chosen_a": chosen_a, "chosen": chosen, "rejected": rejected,
            "direction": realizer.direction_of(chosen.astype(np.int16) - rejected), "agree": agree,
            "ties": int((utility == 0).sum())}  # fmt: skip


def sample_comments(
    rng: np.random.Generator, prefs: np.ndarray, novel: np.ndarray, cfg: PairsConfig, novel_dims: tuple[int, ...]
) -> np.ndarray:
    """Intensities of UGC comments: some of the user's dimensions at their pole, plus 0-1 noise dimension."""
    n = len(prefs)
    own = _pick(rng, prefs != 0, _range(rng, cfg.comment_dims, n), _bonus(novel, cfg, novel_dims))
    noise = _pick(rng, _indifferent(prefs, novel_dims), rng.integers(0, 2, size=n), None)
    noise_sign = rng.choice(np.array([-1, 1], dtype=np.int8), size=(n, space.N_DIMS))
    return np.where(own, prefs, np.where(noise, noise_sign, 0)).astype(np.int8)


def _subsets(rng: np.random.Generator, n: int, pool: int, bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """For n records, a random subset (random order) of a user's pool of `pool` items: (offsets, pool index)."""
    count = _range(rng, bounds, n)
    order = rng.random((n, pool)).argsort(axis=1)
    index = np.concatenate([order[i, : count[i]] for i in range(n)]) if n else np.zeros(0, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(count)])
    return offsets, index


def _render_pair(rng: np.random.Generator, pair: dict, words: list[str], cfg: PairsConfig) -> tuple[list[str], list[str]]:
    """The texts of chosen and rejected: a minimal pair (one draw of wording for both), or drawn apart."""
    if cfg.minimal_pairs:
        return realizer.render_pairs(rng, pair["chosen"], pair["rejected"], words)
    return realizer.render_responses(rng, pair["chosen"], words), realizer.render_responses(rng, pair["rejected"], words)


POOL = records.MAX_ITEMS  # history items per user; each record shows a subset


def _history_pools(
    rng: np.random.Generator, prefs: np.ndarray, novel: np.ndarray, cfg: PairsConfig, novel_dims: tuple[int, ...]
) -> dict:
    """Each user's pools of POOL comments and POOL judged pairs (texts and direction vectors), row u * POOL + i."""
    pool_user = np.repeat(np.arange(len(prefs)), POOL)
    ugc_int = sample_comments(rng, prefs[pool_user], novel[pool_user], cfg, novel_dims)
    ugc_words = realizer.topic_words(rng, len(pool_user))
    ugc_posts, ugc_text = realizer.render_posts(rng, ugc_words), realizer.render_responses(rng, ugc_int, ugc_words)
    pairs = sample_pairs(rng, prefs[pool_user], novel[pool_user], cfg, novel_dims)
    pair_words = realizer.topic_words(rng, len(pool_user))
    pair_posts = realizer.render_posts(rng, pair_words)
    pair_chosen, pair_rejected = _render_pair(rng, pairs, pair_words, cfg)
    return {"ugc_posts": ugc_posts, "ugc_text": ugc_text, "ugc_dir": realizer.direction_of(ugc_int),
            "pair_posts": pair_posts, "pair_chosen": pair_chosen, "pair_rejected": pair_rejected,
            "pair_dir": pairs["direction"]}  # fmt: skip


def _take(values: list[str], rows: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(rows))


def _history_columns(
    rng: np.random.Generator, pools: dict, rec_user: np.ndarray, cfg: PairsConfig
) -> tuple[pa.Array, pa.Array, dict]:
    """The UGC and PAIR history columns of the records (a random subset of their user's pools each), and the pool
    rows each record shows (`ugc_off`, `ugc_rows`, `pair_off`, `pair_rows`)."""
    ugc_off, ugc_idx = _subsets(rng, len(rec_user), POOL, cfg.ugc_items)
    pair_off, pair_idx = _subsets(rng, len(rec_user), POOL, cfg.pair_items)
    ugc_rows = np.repeat(rec_user, np.diff(ugc_off)) * POOL + ugc_idx
    pair_rows = np.repeat(rec_user, np.diff(pair_off)) * POOL + pair_idx
    ugc_col = records.items(
        ugc_off,
        {"prompt": _take(pools["ugc_posts"], ugc_rows), "comment": _take(pools["ugc_text"], ugc_rows),
         records.DIRECTION: records.vectors(pools["ugc_dir"][ugc_rows])},
        UGC_ITEM,
    )  # fmt: skip
    pair_col = records.items(
        pair_off,
        {"prompt": _take(pools["pair_posts"], pair_rows), "chosen": _take(pools["pair_chosen"], pair_rows),
         "rejected": _take(pools["pair_rejected"], pair_rows),
         records.DIRECTION: records.vectors(pools["pair_dir"][pair_rows])},
        PAIR_ITEM,
    )  # fmt: skip
    shown = {"ugc_off": ugc_off, "ugc_rows": ugc_rows, "pair_off": pair_off, "pair_rows": pair_rows}
    return ugc_col, pair_col, shown


def _first_histories(pools: dict, shown: dict, n_users: int, rpu: int) -> np.ndarray:
    """Each user's first record's history directions: (n_users, 2 * POOL, 90) float32 padded with NaN rows."""
    history = np.full((n_users, 2 * POOL, space.N_DIMS), np.nan, dtype=np.float32)
    ugc_off, ugc_rows, pair_off, pair_rows = shown["ugc_off"], shown["ugc_rows"], shown["pair_off"], shown["pair_rows"]
    for u, r in enumerate((np.arange(n_users) * rpu).tolist()):
        items = [pools["ugc_dir"][row] for row in ugc_rows[ugc_off[r] : ugc_off[r + 1]]]
        items += [pools["pair_dir"][row] for row in pair_rows[pair_off[r] : pair_off[r + 1]]]
        history[u, : len(items)] = items
    return history


def generate_chunk(
    rng: np.random.Generator,
    user_ids: list[str],
    splits: list[str],
    directions: np.ndarray,
    demos: list[str],
    novel: np.ndarray,
    cfg: PairsConfig,
    novel_dims: tuple[int, ...] = (),
) -> Chunk:
    """All records of a chunk of users (params `pairs`; `novel_dims`: params personas.novel_dims as indices), with
    the ground truth the chunk's statistics need (Chunk)."""
    n_users, rpu = len(user_ids), cfg.records_per_user
    prefs = (2 * directions - 1).round().astype(np.int8)  # 0 / 0.5 / 1 -> -1 / 0 / +1
    pools = _history_pools(rng, prefs, novel, cfg, novel_dims)
    rec_user = np.repeat(np.arange(n_users), rpu)
    pr = sample_pairs(rng, prefs[rec_user], novel[rec_user], cfg, novel_dims)
    words = realizer.topic_words(rng, len(rec_user))
    posts = realizer.render_posts(rng, words)
    chosen, rejected = _render_pair(rng, pr, words, cfg)
    ugc_col, pair_col, shown = _history_columns(rng, pools, rec_user, cfg)
    record_ids = [f"{user_ids[u]}-{k:03d}" for u in range(n_users) for k in range(rpu)]
    table = records.table(
        record_ids,
        _take(user_ids, rec_user),
        _take(splits, rec_user),
        posts,
        chosen,
        rejected,
        records.vectors(pr["direction"]),
        _take(demos, rec_user),
        ugc_col,
        pair_col,
    )
    history = _first_histories(pools, shown, n_users, rpu)
    return Chunk(table, pr, chosen, rejected, directions[rec_user], history)
