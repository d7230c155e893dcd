"""The Prefect task and sub-flow that run generation chunks on a task runner.

Kept apart from flows/pairs.py on purpose: process-pool workers import the module that defines the task,
and this one pulls in neither MLflow nor matplotlib (several seconds less start-up per worker).
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from tqdm import tqdm

from alignx.pipeline.gates import GateResult
from alignx.world import chunks, pairs


@task(name="pairs-chunk", cache_policy=NO_CACHE)
def synth_chunk(job: chunks.Job, spec: pairs.PairSpec, seed: int, out: str) -> tuple[pairs.ChunkStats, GateResult]:
    """Generate, gate and write one chunk (see chunks.run_job)."""
    return chunks.run_job(job, spec, seed, Path(out))


@flow(name="pairs-chunks")
def synth_chunks(jobs: list[chunks.Job], spec: pairs.PairSpec, seed: int, folder: str) -> list:
    """Run every chunk on the flow's task runner; results in plan order."""
    futures = [synth_chunk.submit(job, spec, seed, str(chunks.part_path(Path(folder), job))) for job in jobs]
    return [f.result() for f in tqdm(futures, desc="pairs", unit="chunk")]
