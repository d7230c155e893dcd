"""Build `data/pairs`: records synthesised from the personas or imported from released AlignX files, and the
whole-dataset gates (users in one split, unique ids, coverage of non-novel dimensions, balance, shortcuts).

Every chunk (synthetic) or batch (import) is gated as it is written; the dataset gates run on the merged
splits before the stage publishes them.
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
from prefect.client.orchestration import get_client
from tqdm import tqdm

from alignx import space
from alignx.config import PairsConfig
from alignx.contracts import DIRECTION, PAIRS_DIR, SPLITS, USERS_FILE
from alignx.data import importers, record_gates
from alignx import readers
from alignx.pipeline.gates import GateResult
from alignx.pipeline.stage import Stage
from alignx.world import chunks, pairs, report, users
from alignx.world.records import SCHEMA
from alignx.world.tasks import synth_chunks

OUT, USERS = PAIRS_DIR, USERS_FILE
PARTS = ".parts"
# Imported data has no ground truth (utility, generation order, users' vectors): only these are measured.
IMPORTED_METRICS = ("records", "label_balance", "longer_wins", "shorter_wins", "tone_oracle", "nonneutral_dims_per_record")
log = logging.getLogger("alignx")


def pair_spec(p: PairsConfig, novel_dims: tuple[int, ...]) -> pairs.PairSpec:
    """The PairSpec of the `pairs` params section."""
    return pairs.PairSpec(
        records_per_user=p.records_per_user, contrast_per_sign=p.contrast_per_sign, shared_dims=p.shared_dims,
        comment_dims=p.comment_dims, ugc_items=p.ugc_items, pair_items=p.pair_items, choice_noise=p.choice_noise,
        minimal_pairs=p.minimal_pairs, novel_dims=novel_dims, novel_boost=p.novel_boost,
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
    spec = pair_spec(p, users.user_spec(st.section("personas")).novel_dims)
    jobs = chunks.plan_jobs(USERS, p.chunk_users)
    parts = tmp / PARTS
    parts.mkdir(parents=True)
    runner = chunks.task_runner(p.runner)
    with shared_api():
        results = synth_chunks.with_options(task_runner=runner)(jobs, spec, p.seed, str(parts))
    per_split = {s: pairs.ChunkStats() for s in SPLITS}
    for split in SPLITS:
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
    writers = {s: pq.ParquetWriter(tmp / f"{s}.parquet", SCHEMA, compression=chunks.COMPRESSION) for s in SPLITS}
    per_split = {s: pairs.ChunkStats() for s in SPLITS}
    try:
        batches = importers.iter_alignx(folder, p.on_bad_record, p.val_fraction, p.test_fraction, skipped)
        for k, (split, table) in enumerate(tqdm(batches, desc="import", unit="batch")):
            st.check(record_gates.gate_records(f"pairs_import_{k}", table, splits=SPLITS), where=str(folder))
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
    direction = table.column(DIRECTION).combine_chunks().flatten().to_numpy().reshape(-1, space.N_DIMS)
    return pairs.ChunkStats(
        records=table.num_rows,
        longer_wins=int((chosen > rejected).sum()),
        shorter_wins=int((chosen < rejected).sum()),
        histogram=np.stack([(direction == v).sum(axis=0) for v in space.VALUES], axis=1),
        tone_oracle=float(readers.tone(direction, direction).sum()),
    )


def dataset_gates(tmp: Path, summary: dict, p: PairsConfig, synthetic: bool) -> list[GateResult]:
    """Whole-dataset gates: users in one split, unique record ids, coverage, balance and shortcuts."""
    ids = [pq.read_table(tmp / f"{s}.parquet", columns=["record_id", "user_id", "split"]) for s in SPLITS]
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
    if p.coverage:
        results.append(record_gates.gate_coverage("pairs_coverage", coverage, summary["novel_dims"]))
    if synthetic:
        # A simulated world whose labels follow length or order is broken; real data's biases are a finding,
        # reported as metrics (pairs_flow) rather than gated.
        m = report.metrics(train, "train")
        keys = ("label_balance", "longer_wins", "shorter_wins", "first_wins", "tone_oracle", "tone_user")
        balance = {k: m[f"train.{k}"] for k in keys}
        results.append(record_gates.gate_balance("pairs_balance", balance, p.label_balance, p.max_shortcut))
    return results
