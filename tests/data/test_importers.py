"""Importers: released AlignX files (parquet, JSON, JSONL) and benchmark JSON into the record schema, with
one test per class of bad record."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alignx import space
from alignx.data import importers, record_gates
from alignx.world.records import DEMO, DIRECTION, PAIR, SCHEMA, UGC

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
P_SOUPS = SHARED / "benchmarks" / "p-soups" / "friendly_unfriendly.json"
VEC = [0.5] * 89 + [1.0]


def alignx_raw(i: int) -> dict:
    """A record with the released dataset's field names (no ids)."""
    return {
        "prompt": f"post {i}", "chosen": f"good {i}", "rejected": f"bad {i}", DIRECTION: VEC,
        DEMO: "I am a young woman.",
        UGC: [{"prompt": "p", "comment": "c", DIRECTION: VEC}],
        PAIR: [{"prompt": "p", "chosen": "a", "rejected": "b", DIRECTION: VEC}] * 2,
    }  # fmt: skip


def bench_raw(i: int) -> dict:
    return {"prompt": f"q{i}", "chosen": "a", "rejected": "b", "ground_truth_persona": "friendly",
            "profile": "Older, Concise communication style, Likes music",
            PAIR: [{"prompt": "p", "chosen": "x", "rejected": "y"}]}  # fmt: skip


def write(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(records), path)
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    else:
        path.write_text(json.dumps(records))
    return path


def import_folder(folder: Path, on_bad_record: str = "fail") -> tuple[dict[str, pa.Table], importers.Skipped]:
    skipped, tables = importers.Skipped(), {}
    for split, table in importers.iter_alignx(folder, on_bad_record, 0.0, 0.0, skipped):
        tables[split] = pa.concat_tables([tables[split], table]) if split in tables else table
    return tables, skipped


@pytest.mark.parametrize("name", ["train.parquet", "train.json", "train.jsonl"])
def test_alignx_files_load_in_every_format(tmp_path, name):
    write(tmp_path / name, [alignx_raw(i) for i in range(3)])
    tables, skipped = import_folder(tmp_path)
    table = tables["train"]
    assert table.schema.equals(SCHEMA) and table.num_rows == 3 and skipped.count == 0
    row = table.to_pylist()[1]
    assert row["record_id"] == "train-0000001" and row["user_id"] == row["record_id"]
    assert row[DIRECTION] == VEC and row[UGC][0]["comment"] == "c" and len(row[PAIR]) == 2
    assert record_gates.gate_records("import", table, splits=importers.SPLITS).success


def test_split_comes_from_the_file_name_else_a_stable_hash(tmp_path):
    write(tmp_path / "test.json", [alignx_raw(0)])
    assert set(import_folder(tmp_path)[0]) == {"test"}
    assert importers.split_of(Path("all.json"), "u1", 0.5, 0.5) == importers.split_of(Path("x.json"), "u1", 0.5, 0.5)


def test_benchmark_json_loads_with_profile_direction_and_null_pair_directions(tmp_path):
    path = write(tmp_path / "bench.json", [bench_raw(0), {**bench_raw(1), "profile": ""}])
    table, skipped = importers.read_benchmark(path, "demo-bench")
    rows = table.to_pylist()
    assert rows[0][DIRECTION] == space.parse_profile("Older, Concise communication style, Likes music")
    assert rows[1][DIRECTION] is None and rows[0][PAIR][0][DIRECTION] is None
    assert rows[0]["record_id"] == rows[0]["user_id"] == "demo-bench-00000" and rows[0]["split"] == "demo-bench"
    assert rows[0]["ground_truth_persona"] == "friendly"
    assert record_gates.gate_records("bench", table, allow_null_direction=True).success


BAD_RECORDS = {
    "not_an_object": (lambda r: ["a list"], "<record>"),
    "missing_field": (lambda r: {k: v for k, v in r.items() if k != "chosen"}, "chosen"),
    "wrong_type": (lambda r: {**r, "prompt": 42}, "prompt"),
    "empty_text": (lambda r: {**r, "rejected": "   "}, "rejected"),
    "chosen_equals_rejected": (lambda r: {**r, "rejected": r["chosen"]}, "rejected"),
    "short_vector": (lambda r: {**r, DIRECTION: [0.5] * 89}, DIRECTION),
    "bad_vector_value": (lambda r: {**r, DIRECTION: [0.7] + [0.5] * 89}, DIRECTION),
    "too_many_items": (lambda r: {**r, UGC: r[UGC] * 5}, UGC),
    "item_missing_text": (lambda r: {**r, PAIR: [{"prompt": "p", "chosen": "a", DIRECTION: VEC}]}, f"{PAIR}[0].rejected"),
    "item_missing_vector": (lambda r: {**r, UGC: [{"prompt": "p", "comment": "c"}]}, f"{UGC}[0].{DIRECTION}"),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(BAD_RECORDS))
def test_bad_alignx_record_fails_naming_file_index_and_field(tmp_path, kind):
    damage, field = BAD_RECORDS[kind]
    path = write(tmp_path / "train.json", [alignx_raw(0), alignx_raw(1), damage(alignx_raw(2))])
    with pytest.raises(importers.RecordError) as info:
        import_folder(tmp_path)
    error = info.value
    assert (error.file, error.index, error.field) == (str(path), 2, field)
    assert str(path) in str(error) and "record 2" in str(error)


def test_bad_benchmark_profile_names_the_field(tmp_path):
    path = write(tmp_path / "bench.json", [bench_raw(0), {**bench_raw(1), "profile": "Older, Loves cheese"}])
    with pytest.raises(importers.RecordError, match=r"record 1: field 'profile'.*unknown label"):
        importers.read_benchmark(path, "b")


def test_skip_mode_counts_bad_records_and_keeps_the_rest(tmp_path):
    records = [alignx_raw(0), {**alignx_raw(1), "prompt": ""}, alignx_raw(2), {**alignx_raw(3), DIRECTION: None}]
    write(tmp_path / "train.jsonl", records)
    tables, skipped = import_folder(tmp_path, on_bad_record="skip")
    assert tables["train"].num_rows == 2 and skipped.count == 2
    assert "record 1" in skipped.examples[0] and "record 3" in skipped.examples[1]


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no .parquet"):
        import_folder(tmp_path)


@pytest.mark.skipif(not P_SOUPS.exists(), reason=f"{P_SOUPS} absent (no ../shared beside the repository)")
def test_shared_p_soups_file_loads_unchanged():
    table, skipped = importers.read_benchmark(P_SOUPS, "p-soups")
    raw = json.loads(P_SOUPS.read_text())
    assert table.num_rows == len(raw) == 600 and skipped.count == 0
    rows = table.to_pylist()
    for k in (0, 299, 599):
        for name in ("prompt", "chosen", "rejected", "profile", "ground_truth_persona"):
            assert rows[k][name] == raw[k][name]
        assert rows[k][DIRECTION] == space.parse_profile(raw[k]["profile"])
        assert [i["chosen"] for i in rows[k][PAIR]] == [i["chosen"] for i in raw[k][PAIR]]
    assert record_gates.gate_records("p-soups", table, splits=["p-soups"], allow_null_direction=True).success
