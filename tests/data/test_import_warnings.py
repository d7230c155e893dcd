"""What a user importing real AlignX files is told: the coverage gate names the dimensions a partial import leaves
uncovered and the param that accepts it; a shortcut above its limit and a tiny split warn loudly (a WARNING line
and an MLflow tag on the stage's run), not only as a metric."""

from __future__ import annotations

import logging

import mlflow
import pandas as pd

from alignx import space
from alignx.config import PairsConfig
from alignx.data import build, pair_stats, record_gates
from alignx.pipeline.gates import GateError


def stats(records: int, longer_wins: int = 0, shorter_wins: int = 0) -> pair_stats.ChunkStats:
    return pair_stats.ChunkStats(records=records, longer_wins=longer_wins, shorter_wins=shorter_wins)


def test_coverage_gate_names_uncovered_dimensions_and_the_param_that_accepts_them():
    covered = [5] * 18 + [0] * 72  # a partial import: only the first 18 dimensions contrasted in train
    coverage = pd.DataFrame({"dim": range(90), "train_records_nonneutral": covered, "train_users_on_novel": [0] * 90})
    result = record_gates.gate_coverage("pairs_coverage", coverage)
    assert not result.success
    message = str(GateError([result], where="data/import"))
    assert "72 of 90 dimensions have no non-neutral train record" in message
    assert f"18 {space.DIMENSIONS[18].name}" in message and "and 60 more" in message
    assert "pairs.coverage: false" in message
    assert record_gates.gate_coverage("pairs_coverage", coverage.assign(train_records_nonneutral=5)).hint == ""


def test_import_warns_on_a_shortcut_over_its_limit_and_on_a_tiny_split(mlflow_store, caplog):
    per_split = {"train": stats(1000, longer_wins=780, shorter_wins=200), "val": stats(1), "test": stats(200)}
    with mlflow.start_run() as run, caplog.at_level(logging.WARNING, logger="alignx"):
        warnings = build.import_warnings(per_split, PairsConfig())
    assert len(warnings) == 2, warnings
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("train longer_wins = 0.78 > 0.60" in line for line in logged), logged
    assert any("split val has 1 record(s)" in line for line in logged), logged
    tags = mlflow.get_run(run.info.run_id).data.tags
    assert "0.78 > 0.60" in tags["pairs.warning.longer_wins"]
    assert "1 record(s)" in tags["pairs.warning.val_size"]
    assert "pairs.warning.test_size" not in tags and "pairs.warning.shorter_wins" not in tags


def test_a_clean_import_warns_about_nothing(mlflow_store):
    per_split = {"train": stats(1000, longer_wins=520, shorter_wins=480), "val": stats(50), "test": stats(50)}
    with mlflow.start_run():
        assert build.import_warnings(per_split, PairsConfig()) == []
