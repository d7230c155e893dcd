"""Stage `pairs`: AlignX records per split -> data/pairs/{train,val,test,novel}.parquet.

`source: synthetic` generates them from the personas in parallel chunks (Prefect task runner from params);
`source: {alignx: <folder>}` imports the released dataset's files instead. Either way every chunk is gated,
then the whole dataset (users in one split, unique ids, coverage, balance, shortcuts).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prefect import flow
from prefect.client.orchestration import get_client
from tqdm import tqdm

from alignx import importers, record_gates, space
from alignx.config import ConfigError, load_params
from alignx.gates import GateResult
from alignx.stage import Stage, stage
from alignx.world import chunks, pairs, report, users
from alignx.world.records import SCHEMA
from alignx.world.tasks import synth_chunks
from flows.personas import user_spec

OUT = Path("data/pairs")
USERS = Path("data/personas/users.parquet")
PARTS = ".parts"
# Imported data has no ground truth (utility, generation order, users' vectors): only these are measured.
IMPORTED_METRICS = ("records", "label_balance", "longer_wins", "shorter_wins", "nonneutral_dims_per_record")
log = logging.getLogger("alignx")


def pair_spec(p: dict, novel_dims: tuple[int, ...]) -> pairs.PairSpec:
    """The PairSpec of the `pairs` params section."""
    return pairs.PairSpec(
        records_per_user=int(p["records_per_user"]),
        contrast_dims=tuple(p["contrast_dims"]),
        noise_dims=tuple(p["noise_dims"]),
        comment_dims=tuple(p["comment_dims"]),
        ugc_items=tuple(p["ugc_items"]),
        pair_items=tuple(p["pair_items"]),
        choice_noise=float(p["choice_noise"]),
        novel_dims=novel_dims,
        novel_boost=float(p["novel_boost"]),
    )


@contextmanager
def shared_api() -> Iterator[None]:
    """Point worker processes at this run's Prefect API: without it each process-pool worker starts its own
    temporary server (about 10 s each) when the stage runs against Prefect's ephemeral server."""
    if os.environ.get("PREFECT_API_URL"):
        yield
        return
    with get_client(sync_client=True) as client:
        os.environ["PREFECT_API_URL"] = str(client.api_url)
    try:
        yield
    finally:
        os.environ.pop("PREFECT_API_URL", None)


def synthesize(st: Stage, tmp: Path, summary: dict) -> None:
    """Generate every split into `tmp` (chunk gates checked before anything is merged)."""
    p = st.params
    spec = pair_spec(p, user_spec(load_params("personas")).novel_dims)
    jobs = chunks.plan_jobs(USERS, int(p["chunk_users"]))
    parts = tmp / PARTS
    parts.mkdir(parents=True)
    runner = chunks.task_runner(p["runner"])
    with shared_api():
        results = synth_chunks.with_options(task_runner=runner)(jobs, spec, int(p["seed"]), str(parts))
    per_split = {s: pairs.ChunkStats() for s in users.SPLITS}
    for split in users.SPLITS:
        idx = [i for i, job in enumerate(jobs) if job.split == split]
        st.check(record_gates.merge_chunks(f"pairs_{split}_rows", [results[i][1] for i in idx]), where=str(OUT))
        for i in idx:
            per_split[split].add(results[i][0])
        chunks.merge_parts([chunks.part_path(parts, jobs[i]) for i in idx], tmp / f"{split}.parquet", SCHEMA)
    parts.rmdir()
    summary["stats"] = per_split
    # Train users' non-neutral counts on the novel dimensions (must be zero).
    users_table = pq.read_table(USERS, columns=["split", "direction"])
    train = users_table.filter(pc.equal(users_table.column("split"), "train"))
    flat = train.column("direction").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    summary["train_users_nonneutral"] = (flat.reshape(-1, space.N_DIMS) != 0.5).sum(axis=0)
    summary["novel_dims"] = spec.novel_dims


def import_alignx(st: Stage, tmp: Path, folder: Path, summary: dict) -> None:
    """Import the released files into `tmp`, gating every batch; record skipped records."""
    p = st.params
    tmp.mkdir(parents=True)
    skipped = importers.Skipped()
    writers = {s: pq.ParquetWriter(tmp / f"{s}.parquet", SCHEMA, compression=chunks.COMPRESSION) for s in users.SPLITS}
    per_split = {s: pairs.ChunkStats() for s in users.SPLITS}
    try:
        batches = importers.iter_alignx(
            folder, p["on_bad_record"], float(p["val_fraction"]), float(p["test_fraction"]), skipped
        )
        for k, (split, table) in enumerate(tqdm(batches, desc="import", unit="batch")):
            st.check(record_gates.gate_records(f"pairs_import_{k}", table, splits=users.SPLITS), where=str(folder))
            writers[split].write_table(table, row_group_size=importers.BATCH)
            per_split[split].add(_table_stats(table))
    finally:
        for writer in writers.values():
            writer.close()
    mlflow.log_metric("import.skipped", skipped.count)
    if skipped.count:
        st.log_json(skipped.examples, "import_skipped.json")
        log.warning("skipped %d bad records, e.g. %s", skipped.count, skipped.examples[:3])
    summary.update(stats=per_split, skipped=skipped.count, novel_dims=(), train_users_nonneutral=np.zeros(space.N_DIMS))


def _table_stats(table) -> pairs.ChunkStats:
    """Length shortcuts and direction histogram of imported records (no ground truth for the rest)."""
    chosen = pc.utf8_length(table.column("chosen")).to_numpy()
    rejected = pc.utf8_length(table.column("rejected")).to_numpy()
    direction = table.column(record_gates.DIRECTION).combine_chunks().flatten().to_numpy().reshape(-1, space.N_DIMS)
    return pairs.ChunkStats(
        records=table.num_rows,
        longer_wins=int((chosen > rejected).sum()),
        shorter_wins=int((chosen < rejected).sum()),
        histogram=np.stack([(direction == v).sum(axis=0) for v in space.VALUES], axis=1),
    )


def dataset_gates(tmp: Path, summary: dict, p: dict, synthetic: bool) -> list[GateResult]:
    """Whole-dataset gates: users in one split, unique record ids, coverage, balance and shortcuts."""
    ids = [pq.read_table(tmp / f"{s}.parquet", columns=["record_id", "user_id", "split"]) for s in users.SPLITS]
    user_splits = pd.concat([t.select(["user_id", "split"]).to_pandas().drop_duplicates() for t in ids])
    record_ids = np.concatenate([t.column("record_id").to_numpy() for t in ids])
    results = [
        record_gates.gate_users_in_one_split("pairs_users_in_one_split", user_splits),
        record_gates.gate_unique("pairs_unique_record_ids", "record_id", record_ids),
    ]
    train = summary["stats"]["train"]
    on_novel = np.zeros(space.N_DIMS, dtype=np.int64)
    on_novel[list(summary["novel_dims"])] = summary["train_users_nonneutral"][list(summary["novel_dims"])]
    coverage = pd.DataFrame(
        {"dim": np.arange(space.N_DIMS), "train_records_nonneutral": train.histogram[:, [0, 2]].sum(axis=1),
         "train_users_on_novel": on_novel}
    )  # fmt: skip
    results.append(record_gates.gate_coverage("pairs_coverage", coverage))
    if synthetic:
        # A simulated world whose labels follow length or order is broken; real data's biases are a finding,
        # reported as metrics (pairs_flow) rather than gated.
        m = report.metrics(train, "train")
        balance = {k: m[f"train.{k}"] for k in ("label_balance", "longer_wins", "shorter_wins", "first_wins")}
        results.append(
            record_gates.gate_balance("pairs_balance", balance, tuple(p["label_balance"]), float(p["max_shortcut"]))
        )
    return results


@flow(name="pairs", log_prints=True)
def pairs_flow() -> str:
    """Generate (or import), gate and publish the AlignX records of every split."""
    with stage("pairs") as st:
        p = st.params
        source, summary = p["source"], {}
        synthetic = source == "synthetic"
        if synthetic:
            write = lambda tmp: synthesize(st, tmp, summary)  # noqa: E731
        elif isinstance(source, dict) and "alignx" in source:
            write = lambda tmp: import_alignx(st, tmp, Path(source["alignx"]), summary)  # noqa: E731
        else:
            raise ConfigError(f"params pairs.source: {source!r} is neither 'synthetic' nor {{alignx: <folder>}}")
        st.publish(OUT, write, lambda tmp: dataset_gates(tmp, summary, p, synthetic), log_artifact=False)
        metrics = {"synthetic": float(synthetic)}
        for split, stats in summary["stats"].items():
            split_metrics = report.metrics(stats, split)
            if not synthetic:  # no ground truth for imported data
                split_metrics = {k: v for k, v in split_metrics.items() if k.split(".", 1)[1] in IMPORTED_METRICS}
            metrics.update(split_metrics)
        if "skipped" in summary:
            metrics["import.skipped"] = summary["skipped"]
        hist = summary["stats"]["train"].histogram
        mlflow.log_figure(report.histogram_figure(hist, "train records: direction per dimension"), "plots/directions.png")
        st.report(metrics, title="pairs (synthetic world)" if synthetic else f"pairs (imported from {source['alignx']})")
    return str(OUT)

