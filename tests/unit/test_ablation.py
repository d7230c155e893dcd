"""bench/ablation.py credits each train-metrics file to the experiment that produced it, not to later ones that
only carried it along (an experiment that trains one aligner keeps the other's file from its workspace)."""

from __future__ import annotations

import importlib.util
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
