"""The personas, pairs and benchmarks stages end to end on the real Prefect API, MLflow store and GX."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import mlflow
import pyarrow.parquet as pq
import pytest
import yaml

from flows.benchmarks import benchmarks_flow
from flows.pairs import pairs_flow
from flows.personas import personas_flow
from tests.data.test_importers import alignx_raw, bench_raw, write

pytestmark = pytest.mark.slow
SPLITS = ("train", "val", "test", "novel")


def set_params(section: str, **values) -> None:
    params = yaml.safe_load(Path("params.yaml").read_text())
    params[section].update(values)
    Path("params.yaml").write_text(yaml.safe_dump(params))


def hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.parquet"))}


def last_run(stage: str):
    runs = mlflow.search_runs(experiment_names=["alignx"], filter_string=f"tags.`alignx.pipeline.stage` = '{stage}'")
    return runs.iloc[0]


def small_world() -> None:
    # 10-12 dimensions per user keep every non-novel dimension contrasted in some train record (the coverage
    # gate) in a world this small.
    set_params("personas", users={"train": 60, "val": 12, "test": 12, "novel": 12}, chunk_users=25,
               active_dims=[10, 12])
    set_params("pairs", chunk_users=20, runner={"kind": "thread", "workers": 2, "address": ""})


def test_pairs_bytes_follow_the_seed_not_the_runner(workdir):
    from distributed import LocalCluster

    small_world()
    assert personas_flow(return_state=True).is_completed()
    users = pq.read_table("data/personas/users.parquet").to_pandas()
    assert len(users) == 96 and set(users["split"]) == set(SPLITS)
    assert pq.ParquetFile("data/personas/users.parquet").metadata.num_row_groups == 4

    assert pairs_flow(return_state=True).is_completed()
    threads = hashes(Path("data/pairs"))
    assert set(threads) == {f"{s}.parquet" for s in SPLITS}
    train = pq.ParquetFile("data/pairs/train.parquet")
    assert train.metadata.num_rows == 480 and train.metadata.num_row_groups == 3  # 60 users / 20 per chunk

    set_params("pairs", runner={"kind": "process", "workers": 2, "address": ""})
    assert pairs_flow(return_state=True).is_completed()
    assert hashes(Path("data/pairs")) == threads

    with LocalCluster(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as cluster:
        set_params("pairs", runner={"kind": "dask", "workers": 2, "address": cluster.scheduler_address})
        assert pairs_flow(return_state=True).is_completed()
    assert hashes(Path("data/pairs")) == threads

    set_params("pairs", seed=1, runner={"kind": "thread", "workers": 2, "address": ""})
    assert pairs_flow(return_state=True).is_completed()
    assert all(h != threads[name] for name, h in hashes(Path("data/pairs")).items())

    run = last_run("pairs")
    for metric in ("train.bayes_optimal_accuracy", "train.longer_wins", "train.first_wins", "train.label_balance",
                   "train.tone_oracle", "train.tone_user", "train.profile_precision", "novel.records",
                   "gate.pairs_balance.failed"):  # fmt: skip
        assert f"metrics.{metric}" in run, metric
    assert run["metrics.novel.records"] == 96
    assert run["metrics.train.tone_oracle"] == 0.5 and run["metrics.train.tone_user"] == 0.5  # no tone shortcut
    assert run["params.personas.active_dims"] == "(10, 12)"  # every section the stage reads is logged
    artifacts = [a.path for a in mlflow.artifacts.list_artifacts(run_id=run.run_id, artifact_path="plots")]
    assert "plots/directions.png" in artifacts


def test_pairs_import_fails_on_a_bad_record_or_skips_and_counts_it(workdir, tmp_path):
    folder = tmp_path / "alignx"
    records = []
    for i in range(40):
        raw = alignx_raw(i)
        # Directions cover every dimension, both poles; response lengths do not predict the label.
        raw["Preference Direction"] = [float((i + d) % 2) for d in range(90)]
        raw["chosen"], raw["rejected"] = (f"yes {i}", f"nope {i}") if i % 2 else (f"sure {i}", f"no {i}")
        records.append(raw)
    write(folder / "train.json", records)
    bad = write(folder / "test.jsonl", [alignx_raw(100), {**alignx_raw(101), "chosen": ""}])
    set_params("pairs", source="alignx", import_dir=str(folder), on_bad_record="fail")

    state = pairs_flow(return_state=True)
    assert state.is_failed()
    message = str(state.result(raise_on_failure=False))
    assert f"{bad}: record 1: field 'chosen'" in message
    assert not Path("data/pairs").exists()  # nothing published

    set_params("pairs", on_bad_record="skip")
    assert pairs_flow(return_state=True).is_completed()
    counts = {s: pq.read_metadata(f"data/pairs/{s}.parquet").num_rows for s in SPLITS}
    assert counts == {"train": 40, "val": 0, "test": 1, "novel": 0}
    run = last_run("pairs")
    assert run["metrics.import.skipped"] == 1 and run["metrics.synthetic"] == 0


def test_benchmarks_import_listed_files_and_fail_on_missing_ones(workdir, tmp_path):
    root = tmp_path / "shared"
    write(root / "bench" / "b.json", [bench_raw(i) for i in range(5)])
    set_params("benchmarks", root=str(root), files={"tiny-bench": "bench/b.json"})
    assert benchmarks_flow(return_state=True).is_completed()
    table = pq.read_table("data/benchmarks/tiny-bench.parquet")
    assert table.num_rows == 5 and set(table.column("split").to_pylist()) == {"tiny-bench"}
    manifest = json.loads(Path("data/benchmarks/manifest.json").read_text())
    assert manifest["benchmarks"]["tiny-bench"]["records"] == 5
    assert last_run("benchmarks")["metrics.tiny-bench.records"] == 5

    set_params("benchmarks", files={"gone": "missing.json"})
    state = benchmarks_flow(return_state=True)
    assert state.is_failed() and "missing.json does not exist" in str(state.result(raise_on_failure=False))
    assert Path("data/benchmarks/tiny-bench.parquet").exists()  # the previous output stays in place

    set_params("benchmarks", files={})
    assert benchmarks_flow(return_state=True).is_completed()
    assert json.loads(Path("data/benchmarks/manifest.json").read_text())["benchmarks"] == {}
    assert not list(Path("data/benchmarks").glob("*.parquet"))
