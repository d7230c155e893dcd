"""Stage `benchmarks`: the paper's benchmark JSON files -> data/benchmarks/<name>.parquet + manifest.json.

Each entry of params `benchmarks.files` (name -> file under `benchmarks.root`) is imported in the AlignX record
schema (alignx.data.importers) and gated like every record (alignx.data.record_gates). A listed file that is
missing fails the stage.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from alignx.contracts import BENCHMARKS_DIR
from alignx.data import importers, record_gates
from alignx.pipeline.gates import GateResult

OUT = BENCHMARKS_DIR
MANIFEST = "manifest.json"


def write_benchmarks(tmp: Path, files: dict[str, str], root: str, on_bad_record: str) -> dict:
    """Import every listed benchmark into `tmp`; return the manifest written beside them."""
    tmp.mkdir(parents=True)
    manifest = {"root": root, "benchmarks": {}, "skipped_records": {}}
    paths = {name: importers.benchmark_path(root, name, file) for name, file in files.items()}  # all, before work
    for name, path in paths.items():
        table, skipped = importers.read_benchmark(path, name, on_bad_record)
        pq.write_table(table, tmp / f"{name}.parquet", compression="zstd")
        manifest["benchmarks"][name] = {"source": str(path), "records": table.num_rows}
        manifest["skipped_records"][name] = {"count": skipped.count, "examples": skipped.examples}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def gate_benchmarks(tmp: Path, _manifest: dict | None = None) -> list[GateResult]:
    """Every benchmark file: schema, texts, chosen != rejected, PAIR <= 4, vectors valid or null."""
    manifest = json.loads((tmp / MANIFEST).read_text())
    return [
        record_gates.gate_records(f"benchmark_{name}", pq.read_table(tmp / f"{name}.parquet"), splits=[name],
                                  allow_null_direction=True)
        for name in manifest["benchmarks"]
    ]  # fmt: skip


def benchmarks_figures(manifest: dict) -> dict[str, float]:
    """Benchmarks imported, and each one's records and skipped records."""
    metrics = {"benchmarks": len(manifest["benchmarks"])}
    for name, info in manifest["benchmarks"].items():
        metrics[f"{name}.records"] = info["records"]
        metrics[f"{name}.skipped"] = manifest["skipped_records"][name]["count"]
    return metrics
