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
from alignx.data import record_gates
from alignx.pipeline.gates import GateResult
from alignx.world import pairs, users

COMPRESSION = "zstd"
USER_SCHEMA = pa.schema(
    [("user_id", pa.string()), ("split", pa.string()), ("direction", pa.list_(pa.float32())),
     ("demo", pa.string()), ("n_active", pa.int32())]
)  # fmt: skip


def chunk_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of one chunk: a function of (seed, split, chunk index) only."""
    return np.random.default_rng(np.random.SeedSequence([seed, SPLITS.index(split), index]))


def write_users(path: Path, counts: dict[str, int], spec: users.UserSpec, seed: int, chunk_users: int) -> pa.Table:
    """Draw every split's users chunk by chunk and write them (one row group per chunk); return the table."""
    unknown = set(counts) - set(SPLITS)
    if unknown:
        raise ValueError(f"params personas.users: unknown split(s) {sorted(unknown)} (splits: {SPLITS})")
    tables, first_id = [], 0
    plan = [(s, i) for s in SPLITS for i in range(-(-counts.get(s, 0) // chunk_users))]
    for split, index in tqdm(plan, desc="personas", unit="chunk"):
        n = min(chunk_users, counts[split] - index * chunk_users)
        rng = chunk_rng(seed, split, index)
        directions = users.sample_directions(rng, n, spec, novel=split == "novel")
        demos = [users.render_demo(rng, d, spec) for d in directions]
        ids = [f"u{first_id + k:07d}" for k in range(n)]
        first_id += n
        tables.append(
            pa.Table.from_arrays(
                [pa.array(ids), pa.array([split] * n), pa.array(list(directions), USER_SCHEMA.field("direction").type),
                 pa.array(demos), pa.array((directions != 0.5).sum(axis=1), pa.int32())],
                schema=USER_SCHEMA,
            )
        )  # fmt: skip
    table = pa.concat_tables(tables) if tables else USER_SCHEMA.empty_table()
    pq.write_table(table, path, row_group_size=chunk_users, compression=COMPRESSION)
    return table


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


def run_job(job: Job, spec: pairs.PairSpec, seed: int, out: Path) -> tuple[pairs.ChunkStats, GateResult]:
    """Generate, gate and write one chunk; return its stats and its gate result (the caller decides)."""
    rng = chunk_rng(seed, job.split, job.index)
    ids, directions, demos = read_users(job)
    novel = np.full(len(ids), job.split == "novel")
    table, stats, history = pairs.generate_chunk(rng, ids, [job.split] * len(ids), directions, demos, novel, spec)
    stats.add(pairs.profile_recovery(directions, history))
    result = record_gates.gate_records(f"pairs_{job.split}_{job.index}", table, splits=SPLITS,
                                       novel_dims=spec.novel_dims)
    # Keep only the summary: the full GX result of every chunk would pile up in the parent process.
    result.raw = {"success": result.success, "evaluated": result.evaluated} if result.success else result.raw
    pq.write_table(table, out, row_group_size=max(table.num_rows, 1), compression=COMPRESSION)
    return stats, result


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
