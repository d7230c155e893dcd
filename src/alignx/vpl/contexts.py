"""What VPL reads of a record: the pair to score and the user's context pairs (PAIR history items).

At evaluation the context is exactly the PAIR items the aligner's example shows: the persona `format` drew for the
record (same seed, same per-record stream, `prompts.sample_persona`), less the oldest items cut to fit `max_len`
(the example's `n_pair` most recent of them). An example that shows no PAIR item (UGC or DEMO only) has no context:
VPL then scores with the prior (z = 0), so its accuracy per persona mode shows what the context adds. In training,
each step shows a random subset (possibly empty) of the record's PAIR items.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alignx.config import FormatConfig
from alignx.contracts import MAX_ITEMS, PAIR
from alignx.inputs.prompts import FormatError, record_rng, sample_persona
from alignx.vpl.features import FeatureTable, Text

# Modes whose example shows no history at all (a benchmark's given profile, PBA's oracle train profile).
NO_HISTORY = ("profile", "oracle", "none")


class ContextError(ValueError):
    """An example's shown history cannot be rebuilt from its record (the message names both)."""


def pair_items(record: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The record's PAIR history items (at most MAX_ITEMS, oldest first)."""
    items = record.get(PAIR)
    return [] if items is None else list(items)[:MAX_ITEMS]


def shown_pairs(record: Mapping[str, Any], mode: str, n_pair: int, aligner: str, fmt: FormatConfig) -> tuple[int, ...]:
    """Indices of the PAIR items the aligner's example of `record` shows (mode and n_pair from the example)."""
    rid = str(record["record_id"])
    if mode in NO_HISTORY or n_pair == 0:
        return ()
    try:
        persona = sample_persona(record, record_rng(fmt.seed, aligner, rid), fmt.modes, allow_demo=aligner == "ica")
    except FormatError as exc:
        raise ContextError(f"{aligner} example of record {rid!r}: {exc}") from None
    if persona.mode != mode or n_pair > len(persona.pair):
        raise ContextError(
            f"{aligner} example of record {rid!r}: shows mode {mode!r} with {n_pair} PAIR item(s), but params format "
            f"(seed {fmt.seed}, modes {dict(fmt.modes)}) draws mode {persona.mode!r} with {len(persona.pair)}: the "
            "eval inputs were formatted with other settings (re-run `dvc repro`)")
    return persona.pair[len(persona.pair) - n_pair:]


@dataclass
class PairSet:
    """Rows to score: each pair's two texts and its context pairs (chosen text, rejected text), by row."""

    chosen: list[Text]
    rejected: list[Text]
    context: list[list[tuple[Text, Text]]]

    def texts(self) -> list[Text]:
        """Every text the rows need (with repeats)."""
        out = self.chosen + self.rejected
        for pairs in self.context:
            for c, r in pairs:
                out += [c, r]
        return out

    def __len__(self) -> int:
        return len(self.chosen)


def pair_set(records: Sequence[Mapping[str, Any]], shown: Sequence[Sequence[int]] | None = None) -> PairSet:
    """The PairSet of `records`: the context is the items `shown[i]` of record i, or all its PAIR items."""
    chosen, rejected, context = [], [], []
    for i, rec in enumerate(records):
        post = str(rec["prompt"])
        chosen.append((post, str(rec["chosen"])))
        rejected.append((post, str(rec["rejected"])))
        items = pair_items(rec)
        picks = range(len(items)) if shown is None else shown[i]
        context.append([((str(items[j]["prompt"]), str(items[j]["chosen"])),
                         (str(items[j]["prompt"]), str(items[j]["rejected"]))) for j in picks])
    return PairSet(chosen, rejected, context)


def example_pair_set(examples: pd.DataFrame, records: pd.DataFrame, aligner: str, fmt: FormatConfig) -> PairSet:
    """The PairSet of an eval set's examples (`example_id`, `record_id`, `mode`, `n_pair`) in their order, each
    with the PAIR items its example shows; `records` holds the source records (record schema)."""
    by_id = records.drop_duplicates("record_id").set_index("record_id", drop=False)
    missing = examples.loc[~examples["record_id"].isin(by_id.index), "record_id"]
    if len(missing):
        raise ContextError(f"{aligner}: {len(missing)} example(s) without a source record, e.g. {missing.iloc[0]!r}")
    recs = [by_id.loc[rid].to_dict() for rid in examples["record_id"]]
    shown = [shown_pairs(rec, str(m), int(n), aligner, fmt)
             for rec, m, n in zip(recs, examples["mode"], examples["n_pair"])]
    return pair_set(recs, shown)


@dataclass
class Indexed:
    """A PairSet as rows of a FeatureTable: chosen [N], rejected [N], context [N, K, 2], mask [N, K]."""

    chosen: np.ndarray
    rejected: np.ndarray
    context: np.ndarray
    mask: np.ndarray

    @property
    def n_context(self) -> np.ndarray:
        return self.mask.sum(1)


def index(pairs: PairSet, table: FeatureTable) -> Indexed:
    """Feature rows of every text of `pairs` (context padded to MAX_ITEMS with row 0, masked out)."""
    n = len(pairs)
    context = np.zeros((n, MAX_ITEMS, 2), dtype=np.int64)
    mask = np.zeros((n, MAX_ITEMS), dtype=bool)
    for i, items in enumerate(pairs.context):
        for j, (c, r) in enumerate(items[:MAX_ITEMS]):
            context[i, j] = table.rows([c, r])
            mask[i, j] = True
    return Indexed(table.rows(pairs.chosen), table.rows(pairs.rejected), context, mask)
