"""History items as model input: word uni- and bigrams of an item's text, counted over a learned vocabulary.

Word n-grams up to `order` words; a UGC item is its comment (the post only names a topic: in the synthetic world it is drawn independently of
the user's preferences, and in a PAIR item it is the same for both responses); a PAIR item is the DIFFERENCE of
its chosen and rejected responses' counts, so swapping them negates the input (and the prediction: model.py).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alignx.contracts import DIRECTION, PAIR, UGC

KINDS = ("ugc", "pair")  # item kinds, in this order everywhere (the model's neutral bias is per kind)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


class AnnotationError(ValueError):
    """A history item cannot be annotated (the message names the record index, field and item index)."""


def words(text: str, max_words: int) -> list[str]:
    """Lower-cased words of `text`, at most the first `max_words` (a longer item is cut: documented fallback)."""
    return _WORD.findall(text.lower())[:max_words]


def ngrams(text: str, max_words: int, order: int = 2) -> list[str]:
    """Word n-grams of `text` up to length `order` (words joined by a space)."""
    w = words(text, max_words)
    return [" ".join(w[i:i + n]) for n in range(1, order + 1) for i in range(len(w) - n + 1)]


def _text(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if value is None or not str(value).strip():
        raise AnnotationError(f"{where}: field {key!r} is empty or whitespace only: nothing to annotate")
    return str(value)


def _items(record: Mapping[str, Any], field: str) -> list[Mapping[str, Any]]:
    value = record.get(field)
    return [] if value is None else list(value)


def history_items(records: Iterable[Mapping[str, Any]], unlabelled_only: bool = False) -> pd.DataFrame:
    """One row per history item of `records`: record (index in `records`), record_id, user_id, kind, item
    (index in its list), texts (UGC: [comment]; PAIR: [chosen, rejected]), direction (list or None).
    `unlabelled_only`: only the items without a direction (the ones an annotator must fill).

    An item whose text is empty or whitespace only raises AnnotationError naming record, field and item."""
    rows = []
    for r, record in enumerate(records):
        rid = record.get("record_id", r)
        for kind, field, keys in (("ugc", UGC, ("comment",)), ("pair", PAIR, ("chosen", "rejected"))):
            for i, item in enumerate(_items(record, field)):
                direction = item.get(DIRECTION)
                if unlabelled_only and direction is not None:
                    continue
                where = f"record {r} ({rid!r}), {field!r} item {i}"
                texts = [_text(item, key, where) for key in keys]
                rows.append({"record": r, "record_id": str(rid), "user_id": str(record.get("user_id", "")),
                             "kind": kind, "item": i, "texts": texts,
                             "direction": None if direction is None else [float(v) for v in direction]})
    return pd.DataFrame(rows, columns=["record", "record_id", "user_id", "kind", "item", "texts", "direction"])


def unique_items(items: pd.DataFrame) -> pd.DataFrame:
    """Each distinct item once (a user's history items repeat across the user's records): by kind and texts."""
    key = items["kind"] + "\0" + items["texts"].map("\0".join)
    return items.loc[~key.duplicated()].reset_index(drop=True)


@dataclass(frozen=True)
class Vocabulary:
    """The n-grams the annotator reads (learned from train items), and the word cut per text."""

    terms: tuple[str, ...]
    max_words: int
    order: int = 2  # longest n-gram

    @classmethod
    def learn(cls, texts: Iterable[str], max_features: int, min_count: int, max_words: int, order: int = 2) -> "Vocabulary":
        """The `max_features` most frequent n-grams seen at least `min_count` times (ties by term, for
        determinism)."""
        counts = Counter(g for t in texts for g in set(ngrams(t, max_words, order)))
        kept = sorted((g for g, c in counts.items() if c >= min_count), key=lambda g: (-counts[g], g))
        return cls(tuple(kept[:max_features]), max_words, order)

    def __len__(self) -> int:
        return len(self.terms)

    def encode(self, items: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Bag inputs of `items` (rows of history_items): (ids, weights, offsets, kind index) for an
        EmbeddingBag in `sum` mode; a PAIR item's rejected n-grams weigh -1."""
        index = {g: k for k, g in enumerate(self.terms)}
        ids: list[int] = []
        weights: list[float] = []
        offsets: list[int] = []
        for texts in items["texts"]:
            offsets.append(len(ids))
            for sign, text in zip((1.0, -1.0), texts):
                for term, count in Counter(ngrams(text, self.max_words, self.order)).items():
                    k = index.get(term)
                    if k is not None:
                        ids.append(k)
                        weights.append(sign * count)
        kinds = np.array([KINDS.index(k) for k in items["kind"]], dtype=np.int64)
        return (np.asarray(ids, dtype=np.int64), np.asarray(weights, dtype=np.float32),
                np.asarray(offsets, dtype=np.int64), kinds)


def train_texts(items: pd.DataFrame) -> list[str]:
    """Every response text of `items` (what the vocabulary is learned from)."""
    return [t for texts in items["texts"] for t in texts]


def labels(items: pd.DataFrame) -> np.ndarray:
    """Class index per item and dimension (0 negative, 1 neutral, 2 positive) from the 0 / 0.5 / 1 directions."""
    return np.rint(np.stack([np.asarray(v, dtype=np.float64) for v in items["direction"]]) * 2).astype(np.int64)


def as_directions(classes: np.ndarray) -> list[list[float]]:
    """Direction vectors (0 / 0.5 / 1) of class indices."""
    return (np.asarray(classes, dtype=np.float64) / 2).tolist()
