"""bench/ablation.py credits each train-metrics file to the experiment that produced it, not to later ones that
only carried it along (an experiment that trains one aligner keeps the other's file from its workspace)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

spec = importlib.util.spec_from_file_location("ablation", Path(__file__).resolve().parents[2] / "bench" / "ablation.py")
ablation = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ablation)


def entry(rev, name, ts, params, ica=None, pba=None, experiments=()):
    metrics = {f"metrics/train_{a}.json": {"data": m} for a, m in (("ica", ica), ("pba", pba)) if m}
    return {"rev": rev, "name": name, "experiments": [{"revs": [e]} for e in experiments],
            "data": {"timestamp": ts, "params": {"params.yaml": {"data": params}}, "metrics": metrics}}


def test_metrics_are_credited_to_the_experiment_that_trained_them():
    both = entry("e1", "both", "2026-12-02T10:00", {"personas": {"users": {"train": 6000}}},
                 ica={"val/accuracy": 0.493}, pba={"val/accuracy": 0.754})
    pba_only = entry("e2", "pba-only", "2026-12-02T11:00", {"personas": {"users": {"train": 1500}}, "format": {"p": "x"}},
                     ica={"val/accuracy": 0.493}, pba={"val/accuracy": 0.76})
    commit = entry("c1", "main", "2026-12-02T09:00", {"personas": {"users": {"train": 1500}}, "format": {"p": "y"}},
                   experiments=[both, pba_only])
    lines = ablation.table(ablation.rows([{"rev": "workspace", "data": None}, commit]))
    assert lines[2] == "| both | main | `personas.users.train=6000` | 49.3 | 75.4 |"
    assert lines[3] == "| pba-only | main | `format.p=x` | - | 76.0 |"


def test_sweep_rows_come_from_every_saved_mode_subsets_run(tmp_path):
    run = {"aligner": "pba", "modes": "ugc,pair,mixed", "train_examples": 12000, "val_examples": 1000, "steps": 1500,
           "train_loss_last": 0.38, "val_loss": 0.4027, "val_accuracy": 0.832, "seconds": 300}
    (tmp_path / "mode_subsets-2026-12-04-vm-2cpu.json").write_text(json.dumps({"runs": [
        run | {"overrides": {"threads": 1, "epochs": 2}}, run | {"overrides": {"threads": 1}, "steps": 750}]}))
    (tmp_path / "train_throughput-2026-12-04-vm-2cpu.json").write_text("{}")  # another bench's file: not read
    lines = ablation.sweep_table(tmp_path)
    assert lines[2:] == [
        "| mode_subsets-2026-12-04-vm-2cpu | pba | ugc,pair,mixed | `epochs=2` | 1500 | 0.403 | 83.2 (1000) |",
        "| mode_subsets-2026-12-04-vm-2cpu | pba | ugc,pair,mixed | (none) | 750 | 0.403 | 83.2 (1000) |",
    ]
