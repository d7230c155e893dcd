"""Build `data/pairs`: records synthesised from the personas or imported from released AlignX files, and the
whole-dataset gates (users in one split, unique ids, coverage of non-novel dimensions, balance, shortcuts).

Every chunk (synthetic) or batch (import) is gated as it is written; the dataset gates run on the merged
splits before the stage publishes them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
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
from alignx.contracts import PAIRS_DIR, SPLITS, USERS_FILE
from alignx.data import importers, pair_stats, record_gates
from alignx.data.synthesis import synth_chunks
from alignx.pipeline.gates import GateResult

# Stage.check: log gate results, raise GateError naming `where` when one failed.
Check = Callable[..., None]
from alignx.world import chunks
from alignx.world.records import SCHEMA

OUT, USERS = PAIRS_DIR, USERS_FILE
PARTS = ".parts"
# Imported data has no ground truth (utility, generation order, users' vectors): only these are measured.
IMPORTED_METRICS = ("records", "label_balance", "longer_wins", "shorter_wins", "tone_oracle", "nonneutral_dims_per_record")
log = logging.getLogger("alignx")


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


def synthesize(
    tmp: Path, p: PairsConfig, novel_dims: tuple[int, ...], thresholds: tuple[float, float], check: Check
) -> dict:
    """Generate every split into `tmp` from params `pairs` (`novel_dims`: params personas.novel_dims as indices;
    `thresholds`: params `space`, for the profile-recovery statistics); every split's chunk gates go to `check`
    (Stage.check) before anything is merged. Returns the summary the dataset gates and the metrics read (per-split
    stats, novel dimensions, train users on them)."""
    summary: dict = {}
    jobs = chunks.plan_jobs(USERS, p.chunk_users)
    parts = tmp / PARTS
    parts.mkdir(parents=True)
    runner = chunks.task_runner(p.runner)
    with shared_api():
        results = synth_chunks.with_options(task_runner=runner)(jobs, p, novel_dims, thresholds, str(parts))
    per_split = {s: pair_stats.ChunkStats() for s in SPLITS}
    for split in SPLITS:
        idx = [i for i, job in enumerate(jobs) if job.split == split]
        check(record_gates.merge_chunks(f"pairs_{split}_rows", [results[i][1] for i in idx]), where=str(OUT))
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
    summary["novel_dims"] = novel_dims
    return summary


def import_alignx(tmp: Path, p: PairsConfig, check: Check) -> dict:
    """Import the released files of params pairs.import_dir into `tmp`, every batch's gate going to `check`
    (Stage.check); return the summary (as `synthesize`, plus the count of skipped records)."""
    folder = Path(p.import_dir)
    tmp.mkdir(parents=True)
    skipped = importers.Skipped()
    writers = {s: pq.ParquetWriter(tmp / f"{s}.parquet", SCHEMA, compression=chunks.COMPRESSION) for s in SPLITS}
    per_split = {s: pair_stats.ChunkStats() for s in SPLITS}
    try:
        batches = importers.iter_alignx(folder, p.on_bad_record, p.val_fraction, p.test_fraction, skipped)
        for k, (split, table) in enumerate(tqdm(batches, desc="import", unit="batch")):
            check(record_gates.gate_records(f"pairs_import_{k}", table, splits=SPLITS), where=str(folder))
            writers[split].write_table(table, row_group_size=importers.BATCH)
            per_split[split].add(pair_stats.table_stats(table))
    finally:
        for writer in writers.values():
            writer.close()
    mlflow.log_metric("import.skipped", skipped.count)
    if skipped.count:
        mlflow.log_text(json.dumps(skipped.examples, indent=2, default=str), "import_skipped.json")
        log.warning("skipped %d bad records, e.g. %s", skipped.count, skipped.examples[:3])
    import_warnings(per_split, p)
    return {"stats": per_split, "skipped": skipped.count, "novel_dims": (),
            "train_users_nonneutral": np.zeros(space.N_DIMS)}


# Imported splits smaller than this get a warning: one record more or less moves an accuracy on them by over 3 points.
MIN_SPLIT_RECORDS = 30
# The shortcut readers an import is checked against (real data's biases are reported, not gated: dataset_gates).
IMPORT_SHORTCUTS = ("longer_wins", "shorter_wins", "tone_oracle")


def import_warnings(per_split: dict[str, pair_stats.ChunkStats], p: PairsConfig) -> list[str]:
    """Warn loudly (a WARNING log line and an MLflow tag `pairs.warning.<what>` on the stage's run) about what an
    import holds that would block synthetic data or make figures unreliable: a shortcut reader on train above
    0.5 + pairs.max_shortcut (e.g. the longer response chosen in 78 % of pairs), a split under MIN_SPLIT_RECORDS
    records. Returns the warnings."""
    warnings: dict[str, str] = {}
    train = pair_stats.metrics(per_split["train"], "train")
    limit = 0.5 + p.max_shortcut
    for key in IMPORT_SHORTCUTS:
        if train[f"train.{key}"] > limit:
            warnings[key] = (f"train {key} = {train[f'train.{key}']:.2f} > {limit:.2f} (0.5 + pairs.max_shortcut, the "
                             "limit that blocks synthetic data): a model can score well on this data without reading "
                             "the user; compare against the length baseline before trusting accuracies")
    for split, stats in per_split.items():
        if stats.records < MIN_SPLIT_RECORDS:
            warnings[f"{split}_size"] = (f"split {split} has {stats.records} record(s) (< {MIN_SPLIT_RECORDS}): its "
                                         "figures are noise; give it more records (pairs.val_fraction / "
                                         "pairs.test_fraction, or a larger file for that split)")
    for what, text in warnings.items():
        log.warning("pairs import: %s", text)
        mlflow.set_tag(f"pairs.warning.{what}", text[:500])
    return list(warnings.values())


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
        m = pair_stats.metrics(train, "train")
        keys = ("label_balance", "longer_wins", "shorter_wins", "first_wins", "tone_oracle", "tone_user")
        balance = {k: m[f"train.{k}"] for k in keys}
        results.append(record_gates.gate_balance("pairs_balance", balance, p.label_balance, p.max_shortcut))
    return results


def pairs_figures(summary: dict, synthetic: bool) -> dict[str, float]:
    """The stage's metrics: every split's statistics (pair_stats.metrics; imported data: the measurable ones only)
    and the count of skipped records of an import."""
    metrics = {"synthetic": float(synthetic)}
    for split, stats in summary["stats"].items():
        split_metrics = pair_stats.metrics(stats, split)
        if not synthetic:  # no ground truth for imported data
            split_metrics = {k: v for k, v in split_metrics.items() if k.split(".", 1)[1] in IMPORTED_METRICS}
        metrics.update(split_metrics)
    if "skipped" in summary:
        metrics["import.skipped"] = summary["skipped"]
    return metrics
