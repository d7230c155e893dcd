"""Evaluation inputs: which eval sets are read, and the gate on formatted examples + reference + records."""

import math

import numpy as np
import pandas as pd
import pytest

from alignx.evaluation import eval_sets


def test_every_split_and_listed_benchmark_is_an_eval_set():
    sets = eval_sets.eval_sets("pba", ["test", "novel"], {"p-soups": "../shared/p.json"})
    assert list(sets) == ["test", "novel", "p-soups"]
    files, is_benchmark = sets["test"]
    assert not is_benchmark and str(files["examples"]) == "data/eval/splits/format/pba/test.parquet"
    assert str(files["records"]) == "data/pairs/test.parquet"
    files, is_benchmark = sets["p-soups"]
    assert is_benchmark and str(files["records"]) == "data/benchmarks/p-soups.parquet"
    assert str(files["reference"]) == "data/eval/benchmarks/reference/pba/p-soups.parquet"


def test_test_split_is_required():
    with pytest.raises(eval_sets.EvalInputError, match="must include 'test'"):
        eval_sets.eval_sets("ica", ["novel"], {})


def _write_set(tmp_path, reference_ids, ref_values):
    ids = ["r0", "r1", "r2"]
    examples = pd.DataFrame({
        "example_id": ids, "record_id": ids, "user_id": ["u0", "u1", "u9"], "split": "test", "mode": "ugc",
        "n_ugc": 1, "n_pair": 0, "has_demo": False, "n_cut": 0, "profile": "", "direction": [None] * 3,
        "shown_profile": [None] * 3, "prompt_text": "### Post\npost\n\n### Response\n",
        "prompt_ids": [np.array([1, 2, 3], dtype=np.int32)] * 3, "chosen_ids": [np.array([4, 2], dtype=np.int32)] * 3,
        "rejected_ids": [np.array([5, 2], dtype=np.int32)] * 3,
    })
    records = pd.DataFrame({"record_id": ids, "prompt": "post", "chosen": "a", "rejected": "b",
                            "Preference Direction": [None] * 3, "Demographic Information": "",
                            "User-Generated Content": [[]] * 3, "Pair-wise Comparative Feedback": [[]] * 3})
    reference = pd.DataFrame({"example_id": reference_ids, "ref_chosen": ref_values, "ref_rejected": -1.0})
    files = {"examples": tmp_path / "e.parquet", "reference": tmp_path / "r.parquet", "records": tmp_path / "p.parquet"}
    for key, frame in (("examples", examples), ("reference", reference), ("records", records)):
        frame.to_parquet(files[key])
    return files


def _users(tmp_path):
    path = tmp_path / "users.parquet"
    pd.DataFrame({"user_id": ["u1", "u0"], "split": "test", "direction": [[1.0] * 90, [0.0] * 90]}).to_parquet(path)
    return path


def test_gate_passes_a_consistent_set(tmp_path):
    frame = eval_sets.load(_write_set(tmp_path, ["r0", "r1", "r2"], [-1.0, -2.0, -3.0]), _users(tmp_path))
    assert eval_sets.gate(frame, "test", max_len=8).success
    assert frame["prompt"].tolist() == ["post"] * 3 and frame["ref_chosen"].tolist() == [-1.0, -2.0, -3.0]
    # The user's true vector joined on user_id, in the examples' order; u9 is not a known user.
    assert list(frame["user_direction"][0]) == [0.0] * 90 and list(frame["user_direction"][1]) == [1.0] * 90
    assert not isinstance(frame["user_direction"][2], np.ndarray) and math.isnan(frame["user_direction"][2])


def test_without_a_users_file_no_user_is_known(tmp_path):
    frame = eval_sets.load(_write_set(tmp_path, ["r0", "r1", "r2"], [-1.0] * 3), tmp_path / "absent.parquet")
    assert frame["user_direction"].isna().all() and len(frame) == 3


def test_gate_names_every_broken_reference(tmp_path):
    # r0 twice, r1 missing, r2 NaN, and a reference row for an example that does not exist.
    frame = eval_sets.load(_write_set(tmp_path, ["r0", "r0", "r2", "zz"], [-1.0, -1.0, float("nan"), -1.0]), None)
    result = eval_sets.gate(frame, "test", max_len=4)  # 3 prompt + 2 response tokens > 4
    failed = {(f.expectation, f.column) for f in result.failures}
    assert failed == {
        ("expect_column_values_to_be_between", "length"),
        ("expect_column_values_to_be_in_set", "one_reference"),
        ("expect_column_values_to_be_in_set", "reference_finite"),
        ("expect_column_values_to_be_in_set", "orphan_references"),
    }
    assert "one_reference" in result.summary() and "rows [0, 1]" in result.summary()


def test_missing_file_names_the_stage_to_run(tmp_path):
    files = _write_set(tmp_path, ["r0", "r1", "r2"], [-1.0] * 3)
    files["reference"].unlink()
    with pytest.raises(eval_sets.EvalInputError, match="r.parquet: not found"):
        eval_sets.load(files, None)


def test_malformed_direction_names_the_example():
    from alignx.evaluation.experiments import _oracle_labels
    from alignx.space import DirectionError

    row = next(pd.DataFrame({"example_id": ["t-7"], "direction": [[0.3] * 90]}).itertuples())
    with pytest.raises(DirectionError, match=r"test example 't-7' \(row 0\), column 'direction': .*index 0 \(age\)"):
        _oracle_labels(row)


def test_an_empty_set_loads_as_empty_instead_of_failing_in_the_join(tmp_path):
    # Imported data may have no novel users: the evaluate stage then skips that set (not an ArrowInvalid).
    files = _write_set(tmp_path, [], [])
    pd.read_parquet(files["examples"]).iloc[:0].to_parquet(files["examples"])
    pd.read_parquet(files["reference"]).iloc[:0].to_parquet(files["reference"])
    assert eval_sets.load(files, _users(tmp_path)).empty
