"""Throughput and peak memory of the data stages (`personas` + `pairs`: synthesis and GX gates) at scale.

    .venv/bin/python bench/data_scale.py                      # 10k and 100k records
    .venv/bin/python bench/data_scale.py --sizes 1300000      # the full AlignX size (several minutes)

Each size runs the real stages (`alignx run personas`, `alignx run pairs`, Prefect + MLflow + GX, the
params.yaml runner) in a scratch folder and prints records/s and the peak RSS of the whole process tree
(the stage and its worker processes), sampled every 0.1 s with psutil.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
ALIGNX = Path(sys.executable).parent / "alignx"
# Users per split as shares of the population (train gets the rest).
SHARES = {"val": 0.03, "test": 0.05, "novel": 0.02}


def tree_rss(proc: psutil.Process) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass  # exited between listing and reading
    return total


def run_stage(stage: str, cwd: Path) -> tuple[float, int]:
    """Run `alignx run <stage>` in `cwd`; return (seconds, peak tree RSS in bytes)."""
    start, peak = time.perf_counter(), 0
    log = (cwd / f"{stage}.log").open("w")
    proc = subprocess.Popen([str(ALIGNX), "run", stage], cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        peak = max(peak, tree_rss(ps))
        time.sleep(0.1)
    if proc.returncode:
        sys.exit(f"{stage} failed, see {cwd / f'{stage}.log'}")
    return time.perf_counter() - start, peak


def bench(records: int, workers: int, runner: str, keep: bool) -> None:
    work = Path(tempfile.mkdtemp(prefix=f"alignx-scale-{records}-"))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    n_users = max(records // params["pairs"]["records_per_user"], 10)
    counts = {split: max(int(n_users * share), 1) for split, share in SHARES.items()}
    params["personas"]["users"] = {"train": n_users - sum(counts.values()), **counts}
    params["pairs"]["runner"] = {"kind": runner, "workers": workers, "address": ""}
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    t_personas, rss_personas = run_stage("personas", work)
    t_pairs, rss_pairs = run_stage("pairs", work)
    produced = sum(pq_rows(p) for p in (work / "data/pairs").glob("*.parquet"))
    size = sum(p.stat().st_size for p in (work / "data/pairs").glob("*.parquet"))
    total = t_personas + t_pairs
    print(
        f"{records:>9,} requested | {produced:>9,} records | personas {t_personas:6.1f} s | pairs {t_pairs:6.1f} s | "
        f"{produced / t_pairs:8,.0f} records/s (pairs stage) | {produced / total:8,.0f} records/s (both) | "
        f"peak RSS {max(rss_personas, rss_pairs) / 2**30:5.2f} GiB | parquet {size / 2**20:7.1f} MiB",
        flush=True,
    )
    if keep:
        print(f"  kept {work}")
    else:
        shutil.rmtree(work)


def pq_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.read_metadata(path).num_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated record counts, e.g. 10000,1300000")
    parser.add_argument("--workers", type=int, default=2, help="task-runner workers (default 2)")
    parser.add_argument("--runner", default="process", choices=["process", "thread", "dask"])
    parser.add_argument("--keep", action="store_true", help="keep the scratch folders")
    args = parser.parse_args()
    print(f"data_scale: {psutil.cpu_count()} cores, runner={args.runner}, workers={args.workers}", flush=True)
    for size in args.sizes.split(","):
        bench(int(float(size)), args.workers, args.runner, args.keep)


if __name__ == "__main__":
    main()
