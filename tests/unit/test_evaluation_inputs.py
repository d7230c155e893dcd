"""Evaluation inputs: which eval sets are read, and the gate on formatted examples + reference + records."""

import json

import numpy as np
import pandas as pd
import pytest

from alignx.evaluation import inputs


def _manifest(tmp_path, monkeypatch, root_present, imported):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data/benchmarks").mkdir(parents=True)
    (tmp_path / "data/benchmarks/manifest.json").write_text(json.dumps(
        {"root": "../shared", "root_present": root_present, "benchmarks": {n: {} for n in imported}}))


def test_benchmarks_imported_are_evaluated(tmp_path, monkeypatch):
    _manifest(tmp_path, monkeypatch, True, ["p-soups"])
    sets, skipped = inputs.eval_sets("pba", ["test", "novel"], {"p-soups": "../shared/p.json"})
    assert list(sets) == ["test", "novel", "p-soups"] and skipped == {}
    files, is_benchmark = sets["p-soups"]
    assert is_benchmark and str(files["records"]) == "data/benchmarks/p-soups.parquet"
    assert str(files["reference"]) == "data/reference/pba/p-soups.parquet"


def test_benchmark_skipped_and_reported_when_the_shared_folder_is_absent(tmp_path, monkeypatch):
    _manifest(tmp_path, monkeypatch, False, [])
    sets, skipped = inputs.eval_sets("ica", ["test"], {"p-soups": "../shared/p.json"})
    assert list(sets) == ["test"] and "folder ../shared is absent" in skipped["p-soups"]


def test_listed_benchmark_not_imported_is_an_error(tmp_path, monkeypatch):
    _manifest(tmp_path, monkeypatch, True, [])
    with pytest.raises(inputs.EvalInputError, match="benchmark 'p-soups' .* not imported"):
        inputs.eval_sets("ica", ["test"], {"p-soups": "../shared/p.json"})


def test_test_split_is_required():
    with pytest.raises(inputs.EvalInputError, match="must include 'test'"):
        inputs.eval_sets("ica", ["novel"], {})


def _write_set(tmp_path, reference_ids, ref_values):
    ids = ["r0", "r1", "r2"]
    examples = pd.DataFrame({
        "example_id": ids, "record_id": ids, "split": "test", "mode": "ugc", "n_ugc": 1, "n_pair": 0,
        "has_demo": False, "n_cut": 0, "profile": "", "direction": [None] * 3,
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


def test_gate_passes_a_consistent_set(tmp_path):
    frame = inputs.load(_write_set(tmp_path, ["r0", "r1", "r2"], [-1.0, -2.0, -3.0]))
    assert inputs.gate(frame, "test", max_len=8).success
    assert frame["prompt"].tolist() == ["post"] * 3 and frame["ref_chosen"].tolist() == [-1.0, -2.0, -3.0]


def test_gate_names_every_broken_reference(tmp_path):
    # r0 twice, r1 missing, r2 NaN, and a reference row for an example that does not exist.
    frame = inputs.load(_write_set(tmp_path, ["r0", "r0", "r2", "zz"], [-1.0, -1.0, float("nan"), -1.0]))
    result = inputs.gate(frame, "test", max_len=4)  # 3 prompt + 2 response tokens > 4
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
    with pytest.raises(inputs.EvalInputError, match="r.parquet: not found"):
        inputs.load(files)


def test_malformed_direction_names_the_example():
    from alignx.evaluation.experiments import _golden_labels
    from alignx.space import DirectionError

    row = next(pd.DataFrame({"example_id": ["t-7"], "direction": [[0.3] * 90]}).itertuples())
    with pytest.raises(DirectionError, match=r"test example 't-7' \(row 0\), column 'direction': .*index 0 \(age\)"):
        _golden_labels(row)
