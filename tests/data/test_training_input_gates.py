"""The format and reference gates reject what the contract forbids, naming the record / example."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alignx.config import FormatConfig, SpaceConfig
from alignx.inputs.examples import format_records, gate_frame
from alignx.modeling.tokenizer import corpus_texts, train_tokenizer
from alignx.inputs.format import gate_examples
from alignx.modeling.reference import gate_reference
from tests.records import record, records

CFG = FormatConfig(seed=0, max_len=1024, pba_train_profile="inferred", modes={"ugc": 1, "pair": 1, "demo": 1, "mixed": 1})


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(corpus_texts(records(20)), vocab_size=600)


def facts(tokenizer, recs) -> pd.DataFrame:
    return gate_frame(format_records(recs, "ica", tokenizer, CFG, SpaceConfig()), len(recs))


def test_valid_examples_pass(tokenizer):
    assert gate_examples("ok", facts(tokenizer, records(6)), CFG.max_len).success


def test_gate_rejects_identical_responses_and_duplicate_records(tokenizer):
    recs = records(4)
    recs[1]["rejected"] = recs[1]["chosen"]
    recs[3]["record_id"] = recs[2]["record_id"]
    result = gate_examples("bad", facts(tokenizer, recs), CFG.max_len)
    failed = {(f.expectation, f.column) for f in result.failures}
    assert ("expect_column_values_to_be_in_set", "responses_differ") in failed
    assert ("expect_column_values_to_be_unique", "example_id") in failed
    assert any(1 in f.rows for f in result.failures if f.column == "responses_differ")


def test_gate_reports_the_record_that_has_no_persona(tokenizer):
    recs = [*records(2), record(9, n_ugc=0, n_pair=0, demo=False)]
    result = gate_examples("bad", facts(tokenizer, recs), CFG.max_len)
    (failure,) = [f for f in result.failures if f.column == "problem"]
    assert "record 'train-r9': no persona to show" in failure.examples[0] and failure.rows == [2]


def test_gate_rejects_too_long_examples_and_a_missing_example(tokenizer):
    frame = facts(tokenizer, records(3))
    result = gate_examples("bad", frame.assign(n_records=4), max_len=int(frame["length"].min()))
    failed = {f.expectation for f in result.failures}
    assert {"expect_table_row_count_to_equal", "expect_column_values_to_be_between"} <= failed


def test_reference_gate_needs_one_finite_row_per_example():
    ids = pd.Series(["a", "b", "c"])
    good = pd.DataFrame({"example_id": ["c", "a", "b"], "ref_chosen": [-1.0, -2.0, -3.0], "ref_rejected": [-4.0] * 3})
    assert gate_reference("ok", good, ids).success
    bad = pd.DataFrame(
        {"example_id": ["a", "a", "x"], "ref_chosen": [-1.0, np.nan, -3.0], "ref_rejected": [-1.0, -2.0, -np.inf]}
    )
    result = gate_reference("bad", bad, ids)
    columns = {f.column for f in result.failures}
    assert {"example_id", "formatted", "finite"} <= columns
    assert not result.success
