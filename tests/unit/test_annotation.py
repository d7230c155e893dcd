"""The direction annotator: features, antisymmetry, save/load, learning the world's markers, filling records,
and the bad inputs of issue 25 (empty item, over-long item, no history)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from alignx import space
from alignx.annotation import metrics
from alignx.annotation.apply import fill_directions, fill_missing
from alignx.annotation.features import (AnnotationError, Vocabulary, history_items, labels, ngrams, unique_items,
                                        words)
from alignx.annotation.model import CONFIG, Annotator, DirectionNet
from alignx.annotation.registry import swapped
from alignx.annotation.training import fit
from alignx.config import DirectionsConfig, FormatConfig, SpaceConfig
from alignx.contracts import DIRECTION, PAIR, UGC
from alignx.inputs.examples import format_record
from alignx.world import banks

FAST = DirectionsConfig(epochs=15, batch_size=64, lr=0.3, min_count=1)
DIMS = (0, 3, 20, 50, 60)  # a few dimensions of different groups


def marker_items(n: int, seed: int) -> pd.DataFrame:
    """History items written with the synthetic world's marker phrases (the signal the annotator must find):
    UGC comments showing 1-2 dimensions at a pole, PAIR items whose responses show opposite poles."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        dims = rng.choice(DIMS, size=2, replace=False)
        signs = rng.choice([-1, 1], size=2)
        phrase = lambda d, s: banks.MARKERS[d][int(s > 0)][int(rng.integers(len(banks.MARKERS[d][int(s > 0)])))]  # noqa: E731
        direction = [0.5] * space.N_DIMS
        for d, s in zip(dims, signs):
            direction[d] = 1.0 if s > 0 else 0.0
        chosen = " ".join(phrase(d, s) for d, s in zip(dims, signs))
        rejected = " ".join(phrase(d, -s) for d, s in zip(dims, signs))
        kind = UGC if i % 2 else PAIR
        item = {"prompt": "Quick question: any tips?", DIRECTION: direction}
        item.update({"comment": chosen} if kind == UGC else {"chosen": chosen, "rejected": rejected})
        records.append({"record_id": f"r{i}", "user_id": f"u{i}", kind: [item]})
    return unique_items(history_items(records))


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    return fit(marker_items(800, 0), marker_items(60, 1), FAST)


def test_ngrams_are_lower_cased_words_and_bigrams_cut_at_max_words():
    assert words("Hello, World! it's fine", 10) == ["hello", "world", "it's", "fine"]
    assert ngrams("A b c", 10) == ["a", "b", "c", "a b", "b c"]
    assert ngrams("a b c d", 2) == ["a", "b", "a b"]  # an over-long text: its first max_words words only


def test_annotator_learns_the_markers_and_beats_chance_by_far(trained):
    test = marker_items(100, 2)
    found = metrics.summary(labels(test), trained.annotator.classes(test))
    assert found["non_neutral_accuracy"] > 0.9
    assert np.mean([metrics.dimension_f1(labels(test), trained.annotator.classes(test))[d] for d in DIMS]) > 0.9
    assert trained.val["macro_f1"]["overall"] == max(trained.curve)  # the best val epoch is the one kept
    assert 1 <= trained.best_epoch <= FAST.epochs


@pytest.mark.parametrize("hidden", [0, 8])
def test_swapping_chosen_and_rejected_flips_every_dimension(trained, hidden):
    annotator = trained.annotator if hidden == 0 else fit(marker_items(100, 3), marker_items(20, 4),
                                                          replace(FAST, hidden=hidden, epochs=2)).annotator
    pairs = marker_items(60, 5)
    pairs = pairs[pairs["kind"] == "pair"]
    assert np.array_equal(annotator.classes(swapped(pairs)), 2 - annotator.classes(pairs))
    same = pairs.assign(texts=[[t[0], t[0]] for t in pairs["texts"]])  # identical responses: nothing to prefer
    assert (annotator.classes(same) == 1).all()


def test_saved_annotator_is_safetensors_and_json_and_predicts_the_same(trained, tmp_path):
    trained.annotator.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annotator.json", "model.safetensors"]
    loaded = Annotator.load(tmp_path)
    items = marker_items(40, 6)
    assert np.array_equal(loaded.classes(items), trained.annotator.classes(items))
    cfg = json.loads((tmp_path / CONFIG).read_text())
    (tmp_path / CONFIG).write_text(json.dumps({**cfg, "n_dims": 89}))
    with pytest.raises(ValueError, match="not an annotator of this version"):
        Annotator.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="model.safetensors: not found"):
        Annotator.load(tmp_path / "nowhere")


def _raw(record: dict) -> dict:
    """The record with every history item's direction removed (a user without labels)."""
    out = dict(record)
    for field in (UGC, PAIR):
        out[field] = [{k: v for k, v in item.items() if k != DIRECTION} | {DIRECTION: None} for item in record[field]]
    return out


def _record(i: int) -> dict:
    items = marker_items(8, 10 + i)
    ugc = [{"prompt": "post", "comment": t[0], DIRECTION: d} for t, d, k in zip(items["texts"], items["direction"], items["kind"]) if k == "ugc"]
    pair = [{"prompt": "post", "chosen": t[0], "rejected": t[1], DIRECTION: d}
            for t, d, k in zip(items["texts"], items["direction"], items["kind"]) if k == "pair"]
    return {"record_id": f"rec{i}", "user_id": f"user{i}", "split": "test", "prompt": "A post", "chosen": "yes",
            "rejected": "no", DIRECTION: [0.5] * 90, UGC: ugc, PAIR: pair, "profile": ""}


def test_fill_directions_per_use_and_inputs_untouched(trained):
    labelled, raw = _record(0), _raw(_record(0))
    assert fill_directions([labelled], trained.annotator, "labelled") == [labelled]
    assert fill_directions([raw], None, "labelled")[0][UGC][0][DIRECTION] is None  # labelled never predicts
    missing = fill_directions([raw], trained.annotator, "missing")[0]
    assert all(len(item[DIRECTION]) == 90 for field in (UGC, PAIR) for item in missing[field])
    assert raw[UGC][0][DIRECTION] is None  # the caller's record is not modified
    # `missing` keeps an existing label; `predicted` replaces it.
    marked = _record(0)
    marked[UGC][0] = {**marked[UGC][0], DIRECTION: [1.0] * 90}
    assert fill_directions([marked], trained.annotator, "missing")[0][UGC][0][DIRECTION] == [1.0] * 90
    assert fill_directions([marked], trained.annotator, "predicted")[0][UGC][0][DIRECTION] != [1.0] * 90
    with pytest.raises(ValueError, match="no annotator is loaded"):
        fill_directions([raw], None, "missing")
    with pytest.raises(ValueError, match="directions.use must be one of"):
        fill_directions([raw], trained.annotator, "sometimes")


@pytest.mark.parametrize("field, key", [(UGC, "comment"), (PAIR, "chosen"), (PAIR, "rejected")])
@pytest.mark.parametrize("text", ["", "   \n\t", None])
def test_empty_or_whitespace_item_is_a_named_error(trained, field, key, text):
    records = [_raw(_record(0)), _raw(_record(1))]
    records[1][field][0] = {**records[1][field][0], key: text}
    with pytest.raises(AnnotationError, match=rf"record 1 \('rec1'\), '{field}' item 0: field '{key}' is empty"):
        fill_directions(records, trained.annotator, "missing")


def test_labelled_item_with_empty_text_needs_no_annotation(trained):
    record = _record(0)
    record[UGC][0] = {**record[UGC][0], "comment": " "}
    assert fill_directions([record], trained.annotator, "missing")[0][UGC][0][DIRECTION] == record[UGC][0][DIRECTION]


def test_item_far_longer_than_max_words_is_cut_not_crashed(trained):
    cut = trained.annotator.vocab.max_words
    items = marker_items(4, 7)
    long = items.assign(texts=[[t[0] + " filler" * (50 * cut)] + t[1:] for t in items["texts"]])
    assert trained.annotator.classes(long).shape == (4, 90)  # cut to its first max_words words
    head = items.assign(texts=[[" ".join(words(t[0] + " filler" * (50 * cut), cut))] + t[1:] for t in items["texts"]])
    assert np.array_equal(trained.annotator.classes(long), trained.annotator.classes(head))


def test_zero_history_items_give_the_named_pba_error_not_a_profile(trained):
    record = {**_record(0), UGC: [], PAIR: []}
    assert fill_directions([record], trained.annotator, "missing") == [record]  # nothing to fill
    fmt = FormatConfig(seed=0, max_len=256, modes={"ugc": 1.0, "pair": 1.0, "mixed": 1.0})
    row = format_record(record, "pba", _WordTokenizer(), fmt, SpaceConfig())
    assert "record 'rec0': no persona to show (UGC items: 0, PAIR items: 0" in row["problem"]


def test_unlabelled_record_gets_a_profile_from_predicted_directions(trained):
    fmt, spc = FormatConfig(seed=0, max_len=4096, modes={"ugc": 1.0, "pair": 1.0, "mixed": 1.0}), SpaceConfig()
    raw = _raw(_record(2))
    assert "PBA needs a profile" in format_record(raw, "pba", _WordTokenizer(), fmt, spc)["problem"]
    filled = fill_missing([raw], trained.annotator)[0]  # the served models' hook
    row = format_record(filled, "pba", _WordTokenizer(), fmt, spc)
    assert row["problem"] == "" and row["profile"]
    # predicted directions = the labels here (the annotator learned these markers): the same profile
    assert row["profile"] == format_record(_record(2), "pba", _WordTokenizer(), fmt, spc)["profile"]
    assert fill_missing([raw], None) == [raw]  # no annotator (an ICA or older PBA model): rows unchanged


def test_macro_f1_per_dimension_and_groups():
    truth = np.ones((4, 90), dtype=int)
    truth[:2, 0], truth[2:, 0] = 2, 0
    assert metrics.dimension_f1(truth, truth).tolist() == [1.0] * 90
    pred = truth.copy()
    pred[:, 0] = 1  # dimension 0 always neutral: F1 0 for positive, negative and neutral (no true neutral)
    found = metrics.summary(truth, pred)
    assert metrics.dimension_f1(truth, pred)[0] == 0.0
    assert found["macro_f1"]["demographics_and_big_five"] == pytest.approx(6 / 7, abs=1e-4)
    assert found["macro_f1"]["interests"] == 1.0 and found["non_neutral_accuracy"] == 0.0


class _WordTokenizer:
    """A whitespace tokenizer with the interface format_record needs (no chat template)."""

    bos_token_id, eos_token_id, chat_template = 1, 2, None

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [3 + (hash(w) % 1000) for w in text.split()]}
