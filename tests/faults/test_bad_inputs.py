"""Fault matrix, bad inputs (issue 28): every class of unreadable or oversized input fails before work starts with
an error that names the file (and record, field or param); a failed stage leaves the earlier output byte-identical."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alignx.config import SECTIONS, ConfigError, parse
from alignx.data import importers
from tests.data.test_importers import alignx_raw, bench_raw, import_folder, write


def test_non_utf8_jsonl_names_the_file_and_byte(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_bytes(json.dumps(alignx_raw(0)).encode() + b"\n\xff\xfe garbage\n")
    with pytest.raises(importers.ImportFileError, match=rf"{path}: not UTF-8 text \(byte \d+"):
        import_folder(tmp_path)


def test_binary_json_names_the_file_without_dumping_it(tmp_path):
    path = tmp_path / "train.json"
    path.write_bytes(bytes(range(256)) * 50)
    with pytest.raises(importers.ImportFileError) as info:
        import_folder(tmp_path)
    assert str(path) in str(info.value) and len(str(info.value)) < 300


def test_truncated_parquet_names_the_file(tmp_path):
    good = write(tmp_path / "src" / "train.parquet", [alignx_raw(i) for i in range(20)])
    damaged = tmp_path / "import" / "train.parquet"
    damaged.parent.mkdir()
    damaged.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(importers.ImportFileError, match=rf"{damaged}: can't be read as parquet"):
        import_folder(damaged.parent)


def test_oversized_text_field_is_a_bad_record_naming_the_field(tmp_path):
    path = write(tmp_path / "train.jsonl", [alignx_raw(0), {**alignx_raw(1), "chosen": "x" * (importers.MAX_TEXT_CHARS + 1)}])
    with pytest.raises(importers.RecordError, match=rf"{path}: record 1: field 'chosen': \d+ characters, at most"):
        import_folder(tmp_path)


def test_oversized_jsonl_line_is_refused_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(importers, "MAX_RECORD_BYTES", 3000)
    path = write(tmp_path / "train.jsonl", [alignx_raw(0), {**alignx_raw(1), "prompt": "y" * 5000}])
    with pytest.raises(importers.RecordError, match=rf"{path}: record 1: field '<record>': longer than 3000"):
        import_folder(tmp_path)


def test_oversized_json_file_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(importers, "MAX_JSON_BYTES", 100)
    path = write(tmp_path / "train.json", [alignx_raw(i) for i in range(3)])
    with pytest.raises(importers.ImportFileError, match=rf"{path}: \d+ bytes, more than the 100 .*\.jsonl or \.parquet"):
        import_folder(tmp_path)


def test_empty_benchmark_file_is_an_error(tmp_path):
    path = write(tmp_path / "b.json", [])
    with pytest.raises(importers.ImportFileError, match=rf"{path}: benchmark 'b' has no records"):
        importers.read_benchmark(path, "b")


def test_benchmark_outside_its_root_is_refused(tmp_path):
    outside = write(tmp_path / "elsewhere" / "b.json", [bench_raw(0)])
    (tmp_path / "root").mkdir()
    for file in (str(outside), "../elsewhere/b.json"):
        with pytest.raises(importers.ImportFileError, match=r"benchmarks\.files\.b: .* is outside benchmarks\.root"):
            importers.benchmark_path(tmp_path / "root", "b", file)


@pytest.mark.parametrize("section, key, value", [
    ("train", "micro_batch", -8), ("reference", "batch_size", -1), ("evaluate", "batch_size", -2),
])
def test_negative_sizes_name_the_param(section, key, value):
    with pytest.raises(ConfigError, match=rf"params.yaml {section}\.{key}: must be >= 1, got {value}"):
        parse(SECTIONS[section], {key: value}, section)
