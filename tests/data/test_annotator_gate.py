"""The `directions` gate: the saved annotator loads, its weights are finite, it is antisymmetric on PAIR items,
and its val macro-F1 reaches the floor; each failure is reported by the gate, naming what failed."""

from __future__ import annotations

import torch
from safetensors.torch import load_file, save_file

from alignx.annotation.model import WEIGHTS
from alignx.annotation.registry import gate_annotator
from alignx.annotation.training import fit
from alignx.config import DirectionsConfig
from tests.unit.test_annotation import marker_items

CFG = DirectionsConfig(epochs=8, batch_size=64, lr=0.3, min_count=1)


def _failed(results) -> set[str]:
    return {f.column or f.expectation for r in results for f in r.failures}


def test_gate_passes_a_trained_annotator_and_rejects_broken_ones(tmp_path):
    torch.set_num_threads(1)
    val = marker_items(60, 1)
    fit(marker_items(400, 0), val, CFG).annotator.save(tmp_path / "good")
    results = gate_annotator(tmp_path / "good", val, min_macro_f1=0.5)
    assert all(r.success for r in results), [r.summary() for r in results]

    assert _failed(gate_annotator(tmp_path / "good", val, min_macro_f1=0.999)) == {"val_macro_f1"}

    bad = tmp_path / "bad"
    fit(marker_items(400, 0), val, CFG).annotator.save(bad)
    weights = load_file(str(bad / WEIGHTS))
    weights["neutral"][0, 0] = float("nan")
    save_file(weights, str(bad / WEIGHTS))
    assert "finite" in _failed(gate_annotator(bad, val, min_macro_f1=0.0))

    missing = gate_annotator(tmp_path / "nowhere", val, min_macro_f1=0.0)
    assert "loads" in _failed(missing)
