"""The `pairs` stage's synthetic chunks: generate one chunk of records (alignx.world), measure it
(alignx.data.pair_stats), gate it and write it; and the Prefect task and sub-flow that run chunks on a task runner.

Kept apart from flows/pairs.py on purpose: process-pool workers import the module that defines the task, and this
one pulls in neither MLflow nor matplotlib (several seconds less start-up per worker).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from tqdm import tqdm

from alignx.config import PairsConfig
from alignx.contracts import SPLITS
from alignx.data import pair_stats, record_gates
from alignx.pipeline.gates import GateResult
from alignx.world import chunks, pairs


def run_job(
    job: chunks.Job, cfg: PairsConfig, novel_dims: tuple[int, ...], thresholds: tuple[float, float], out: Path
) -> tuple[pair_stats.ChunkStats, GateResult]:
    """Generate, gate and write one chunk (randomness from params pairs.seed, the split and the chunk index); return
    its stats and its gate result (the caller decides)."""
    rng = chunks.chunk_rng(cfg.seed, job.split, job.index)
    ids, directions, demos = chunks.read_users(job)
    novel = np.full(len(ids), job.split == "novel")
    chunk = pairs.generate_chunk(rng, ids, [job.split] * len(ids), directions, demos, novel, cfg, novel_dims)
    table = chunk.table
    stats = pair_stats.chunk_stats(chunk)
    stats.add(pair_stats.profile_recovery(directions, chunk.history, thresholds))
    result = record_gates.gate_records(f"pairs_{job.split}_{job.index}", table, splits=SPLITS, novel_dims=novel_dims)
    # Keep only the summary: the full GX result of every chunk would pile up in the parent process.
    result.raw = {"success": result.success, "evaluated": result.evaluated} if result.success else result.raw
    pq.write_table(table, out, row_group_size=max(table.num_rows, 1), compression=chunks.COMPRESSION)
    return stats, result


@task(name="pairs-chunk", cache_policy=NO_CACHE)
def synth_chunk(
    job: chunks.Job, cfg: PairsConfig, novel_dims: tuple[int, ...], thresholds: tuple[float, float], out: str
) -> tuple[pair_stats.ChunkStats, GateResult]:
    """Generate, gate and write one chunk (see run_job)."""
    return run_job(job, cfg, novel_dims, thresholds, Path(out))


@flow(name="pairs-chunks")
def synth_chunks(
    jobs: list[chunks.Job], cfg: PairsConfig, novel_dims: tuple[int, ...], thresholds: tuple[float, float], folder: str
) -> list:
    """Run every chunk on the flow's task runner; results in plan order."""
    futures = [synth_chunk.submit(job, cfg, novel_dims, thresholds, str(chunks.part_path(Path(folder), job)))
               for job in jobs]
    return [f.result() for f in tqdm(futures, desc="pairs", unit="chunk")]
