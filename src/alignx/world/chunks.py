"""Chunked, deterministic generation: every chunk's randomness derives from (seed, split, chunk index).

Chunks are independent, so they run in any order on any number of workers; each writes one parquet part
(one row group) and the parts are concatenated in plan order. Output bytes therefore depend on the seed
and the chunk size only, never on the runner or the worker count.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from alignx import space
from alignx.config import RunnerConfig
from alignx.contracts import SPLITS

COMPRESSION = "zstd"
def chunk_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of one chunk: a function of (seed, split, chunk index) only."""
    return np.random.default_rng(np.random.SeedSequence([seed, SPLITS.index(split), index]))


@dataclass(frozen=True)
class Job:
    """One chunk of users to turn into records: rows [start, stop) of the users file, all of one split.

    Deliberately small (no user data): Prefect serialises every task's parameters and context for each
    process-pool submission, so the chunk's users are read by the worker itself.
    """

    split: str
    index: int
    start: int
    stop: int
    users: str


def plan_jobs(users_path: Path, chunk_users: int) -> list[Job]:
    """The users file cut into per-split chunks of `chunk_users` users, in output order."""
    split_column = pq.read_table(users_path, columns=["split"]).column("split").to_pylist()
    jobs, position = [], 0
    for split in SPLITS:
        n = split_column.count(split)
        if split_column[position : position + n] != [split] * n:
            raise ValueError(f"{users_path}: users of split {split!r} are not contiguous in split order")
        for index, start in enumerate(range(position, position + n, chunk_users)):
            jobs.append(Job(split, index, start, min(start + chunk_users, position + n), str(users_path)))
        position += n
    return jobs


def read_users(job: Job) -> tuple[list[str], np.ndarray, list[str]]:
    """(user ids, directions (n, 90), DEMO texts) of the job's rows, reading only the row groups needed."""
    file = pq.ParquetFile(job.users)
    groups, first, offset = [], None, 0
    for g in range(file.metadata.num_row_groups):
        size = file.metadata.row_group(g).num_rows
        if offset < job.stop and offset + size > job.start:
            groups.append(g)
            first = offset if first is None else first
        offset += size
    table = file.read_row_groups(groups).slice(job.start - first, job.stop - job.start)
    directions = table.column("direction").combine_chunks().flatten().to_numpy().reshape(-1, space.N_DIMS)
    return table.column("user_id").to_pylist(), directions, table.column("demo").to_pylist()


def part_path(folder: Path, job: Job) -> Path:
    return folder / f"{job.split}-{job.index:06d}.parquet"


def merge_parts(parts: list[Path], final: Path, schema: pa.Schema) -> None:
    """Concatenate part files into `final`, one row group per part, streaming (one part in memory)."""
    with pq.ParquetWriter(final, schema, compression=COMPRESSION) as writer:
        for part in tqdm(parts, desc=f"merge {final.name}", unit="part"):
            table = pq.read_table(part)
            writer.write_table(table, row_group_size=max(table.num_rows, 1))
            part.unlink()


def task_runner(config: RunnerConfig):
    """The Prefect task runner named in params: `process` (local processes, the default), `thread`, or
    `dask` (prefect-dask; `address` of a running Dask scheduler, or a temporary local cluster when empty)."""
    from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

    kind, workers = config.kind, config.workers or None
    if kind == "process":
        return ProcessPoolTaskRunner(max_workers=workers)
    if kind == "thread":
        return ThreadPoolTaskRunner(max_workers=workers)
    if kind == "dask":
        from prefect_dask import DaskTaskRunner

        if config.address:
            return DaskTaskRunner(address=config.address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers or 2, "threads_per_worker": 1})
    raise ValueError(f"params pairs.runner.kind: {kind!r} is not one of process, thread, dask")
