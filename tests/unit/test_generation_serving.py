"""Served rows: bounded and checked before tokenizing, rendered from their content only (never the record id)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alignx.contracts import DIRECTION, PAIR, UGC
from alignx.generation import serving
from alignx.generation.decoding import Sampling, left_pad
from tests.records import record
from tests.toy import ToySize, write_base

THRESHOLDS = (0.6, 0.4)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(write_base(tmp_path_factory.mktemp("toy"), ToySize(vocab=64, hidden=16)))


def test_bad_rows_are_named_before_any_work():
    rows = pd.DataFrame([record(i, split="test") for i in range(3)])
    with pytest.raises(serving.ServedInputError, match=r"row 2, field 'rejected'"):
        serving.check_rows(rows.assign(rejected=["a", "b", float("nan")]), "score", 64)
    with pytest.raises(serving.ServedInputError, match=r"row 0, field 'prompt'"):
        serving.check_rows(rows.assign(prompt=[3, "b", "c"]), "generate", 64)
    with pytest.raises(serving.ServedInputError, match=r"row 1, field 'Demographic Information': 513 characters"):
        serving.check_rows(rows.assign(**{"Demographic Information": ["", "x" * 513, ""]}), "generate", 64)
    with pytest.raises(serving.ServedInputError, match=r"param task"):
        serving.check_rows(rows, "translate", 64)
    assert serving.check_rows(rows.drop(columns=["chosen", "rejected"]), "generate", 64)
    assert list(serving.empty_result("score").columns) == list(serving.SCORE_COLUMNS)


def test_rendering_ignores_record_id_and_cuts_the_oldest_items_first(tokenizer):
    row = record(0, split="test")
    a = serving.render(row, "ica", tokenizer, 4096, THRESHOLDS, response_budget=16)
    b = serving.render({**row, "record_id": "other"}, "ica", tokenizer, 4096, THRESHOLDS, response_budget=16)
    assert a.prompt_ids == b.prompt_ids and a.n_cut == 0
    assert "UGC-comment-0-0" in a.prompt_text and "PAIR-chosen-0-3" in a.prompt_text  # the whole persona
    short = serving.render(row, "ica", tokenizer, len(a.prompt_ids) + 16 - 5, THRESHOLDS, response_budget=16)
    assert short.n_cut >= 1 and len(short.prompt_ids) <= len(a.prompt_ids) - 5
    assert "UGC-comment-0-0" not in short.prompt_text and "UGC-comment-0-3" in short.prompt_text
    given = serving.render({**row, "profile": "Likes camping"}, "pba", tokenizer, 4096, THRESHOLDS, response_budget=16)
    assert "Likes camping" in given.prompt_text
    with pytest.raises(serving.ServedInputError, match="row 4: no persona to show"):
        serving.render({**row, "User-Generated Content": [], "Pair-wise Comparative Feedback": []}, "pba", tokenizer,
                       4096, THRESHOLDS, row=4)


def test_left_padding_and_sampling_settings():
    ids, mask = left_pad([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    with pytest.raises(ValueError):
        Sampling(top_p=0)
    assert serving.sampling({**serving.DEFAULT_PARAMS, "max_new_tokens": 5}).max_new_tokens == 5
    with pytest.raises(serving.ServedInputError, match="params"):
        serving.sampling({**serving.DEFAULT_PARAMS, "temperature": -1})
    assert np.isfinite(serving.CHARS_PER_TOKEN)


def test_the_signature_accepts_history_items_without_a_direction():
    # Imported benchmarks carry PAIR items whose direction is None: the schema must not reject them before
    # predict() decides (a given profile renders; no profile and no directions fails naming the row).
    columns = {c.name: c.type for c in serving.signature().inputs.inputs}
    for name in (UGC, PAIR):
        props = {p.name: p.required for p in columns[name].dtype.properties}
        assert props.pop(DIRECTION) is False and all(props.values())
