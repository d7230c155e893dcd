"""Stage `benchmarks`: the paper's benchmark JSON files -> data/benchmarks/<name>.parquet + manifest.json.

Each entry of params `benchmarks.files` (name -> path) is imported in the AlignX record schema. A listed
file that is missing fails the stage; when the shared folder holding them is absent altogether (a checkout
without ../shared), the stage reports that and publishes an empty manifest, so the DVC out always exists.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import mlflow
import pyarrow.parquet as pq
from prefect import flow

from alignx import importers, record_gates
from alignx.gates import GateResult
from alignx.stage import stage

OUT = Path("data/benchmarks")
MANIFEST = "manifest.json"
log = logging.getLogger("alignx")


def write_benchmarks(tmp: Path, files: dict[str, str], root: str, on_bad_record: str) -> dict:
    """Import every listed benchmark into `tmp`; return the manifest written beside them."""
    tmp.mkdir(parents=True)
    manifest = {"root": root, "root_present": Path(root).is_dir(), "benchmarks": {}, "skipped_records": {}}
    if not manifest["root_present"]:
        log.warning("benchmarks: folder %s is absent, no benchmark imported (%s listed)", root, ", ".join(files))
    else:
        for name, path in files.items():
            path = Path(path)
            if not path.is_file():
                raise FileNotFoundError(f"params benchmarks.files.{name}: {path} does not exist")
            table, skipped = importers.read_benchmark(path, name, on_bad_record)
            pq.write_table(table, tmp / f"{name}.parquet", compression="zstd")
            manifest["benchmarks"][name] = {"source": str(path), "records": table.num_rows}
            manifest["skipped_records"][name] = {"count": skipped.count, "examples": skipped.examples}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def gate_benchmarks(tmp: Path) -> list[GateResult]:
    """Every benchmark file: schema, texts, chosen != rejected, PAIR <= 4, vectors valid or null."""
    manifest = json.loads((tmp / MANIFEST).read_text())
    return [
        record_gates.gate_records(f"benchmark_{name}", pq.read_table(tmp / f"{name}.parquet"), splits=[name],
                                  allow_null_direction=True)
        for name in manifest["benchmarks"]
    ]  # fmt: skip


@flow(name="benchmarks", log_prints=True)
def benchmarks_flow() -> str:
    """Import, gate and publish the benchmarks listed in params."""
    with stage("benchmarks") as st:
        p = st.params
        files = {str(k): str(v) for k, v in (p.get("files") or {}).items()}
        manifest = {}
        st.publish(
            OUT,
            lambda tmp: manifest.update(write_benchmarks(tmp, files, str(p["root"]), p["on_bad_record"])),
            gate_benchmarks,
            log_artifact=False,
        )
        mlflow.log_artifact(str(OUT / MANIFEST))
        metrics = {"root_present": float(manifest["root_present"]), "benchmarks": len(manifest["benchmarks"])}
        for name, info in manifest["benchmarks"].items():
            metrics[f"{name}.records"] = info["records"]
            metrics[f"{name}.skipped"] = manifest["skipped_records"][name]["count"]
        st.report(metrics)
    return str(OUT)
