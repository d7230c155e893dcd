"""GX record gates: each broken property is caught and named (column and row)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from alignx.data import record_gates
from alignx.world.records import DIRECTION, PAIR, SCHEMA, UGC

NEUTRAL = [0.5] * 90


def _row(i: int, **changes) -> dict:
    row = {
        "record_id": f"r{i}", "user_id": f"u{i}", "split": "train", "prompt": "post", "chosen": "yes",
        "rejected": "no", DIRECTION: [1.0] + NEUTRAL[1:], "Demographic Information": "",
        UGC: [{"prompt": "p", "comment": "c", DIRECTION: NEUTRAL}],
        PAIR: [{"prompt": "p", "chosen": "a", "rejected": "b", DIRECTION: NEUTRAL}],
        "profile": "", "ground_truth_persona": "",
    }  # fmt: skip
    row.update(changes)
    return row


def _table(*rows: dict) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=SCHEMA)


def test_good_records_pass_as_arrow_and_as_pandas():
    table = _table(_row(0), _row(1))
    assert record_gates.gate_records("ok", table, splits=["train"]).success
    assert record_gates.gate_records("ok_pandas", table.to_pandas(), splits=["train"]).success


@pytest.mark.parametrize(
    "changes, column",
    [
        ({"rejected": "yes"}, "chosen_ne_rejected"),
        ({"prompt": "  "}, "prompt_ok"),
        ({DIRECTION: [0.5] * 89}, "direction_ok"),
        ({DIRECTION: [0.3] + NEUTRAL[1:]}, "direction_ok"),
        ({DIRECTION: None}, "direction_ok"),
        ({UGC: [{"prompt": "p", "comment": "c", DIRECTION: NEUTRAL}] * 5}, "ugc_ok"),
        ({PAIR: [{"prompt": "p", "chosen": "a", "rejected": "", DIRECTION: NEUTRAL}]}, "pair_ok"),
        ({"record_id": "r0"}, "record_id"),
        ({"split": "holdout"}, "split"),
    ],
)
def test_broken_record_fails_the_gate_naming_column_and_row(changes, column):
    result = record_gates.gate_records("broken", _table(_row(0), _row(1, **changes)), splits=["train"])
    assert not result.success
    failure = next(f for f in result.failures if f.column == column)
    assert column == "record_id" or failure.rows == [1]


def test_null_directions_are_allowed_for_benchmarks_only():
    row = _row(0, **{DIRECTION: None, PAIR: [{"prompt": "p", "chosen": "a", "rejected": "b", DIRECTION: None}]})
    assert record_gates.gate_records("bench", _table(row), allow_null_direction=True).success
    assert not record_gates.gate_records("records", _table(row)).success


def test_missing_column_is_a_schema_failure_not_a_crash():
    result = record_gates.gate_records("schema", _table(_row(0)).drop_columns(["profile"]))
    assert not result.success
    assert any(f.column == "column" and f.examples == ["profile"] for f in result.failures)


def test_dataset_gates_catch_split_leaks_missing_coverage_and_shortcuts():
    import pandas as pd

    leak = pd.DataFrame({"user_id": ["u1", "u1", "u2"], "split": ["train", "test", "train"]})
    assert not record_gates.gate_users_in_one_split("leak", leak).success
    coverage = pd.DataFrame({"dim": range(90), "train_records_nonneutral": [5] * 89 + [0],
                             "train_users_on_novel": [0] * 90})  # fmt: skip
    assert not record_gates.gate_coverage("cov", coverage).success
    # A novel dimension need not (must not) appear in train: coverage is required of non-novel ones only.
    assert record_gates.gate_coverage("cov", coverage, novel_dims=[89]).success
    fair = {"label_balance": 0.5, "first_wins": 0.5, "longer_wins": 0.49, "shorter_wins": 0.5,
            "tone_oracle": 0.5, "tone_user": 0.52}
    assert record_gates.gate_balance("fair", fair, (0.45, 0.55), 0.1).success
    assert not record_gates.gate_balance("long", {**fair, "longer_wins": 0.7}, (0.45, 0.55), 0.1).success
    tone = record_gates.gate_balance("tone", {**fair, "tone_user": 0.62}, (0.45, 0.55), 0.1)
    assert not tone.success and [f.column for f in tone.failures] == ["tone_user"]
    assert not record_gates.gate_unique("ids", "record_id", np.array(["a", "a"])).success
