"""What evaluation publishes: the metrics document, the targets check, the Markdown report and the figures."""

import json
import math

import pandas as pd
import pytest

from alignx.evaluation import plots, report
from alignx.evaluation.results import AlignerResults


def _summary(aligner, a, b, n):
    best = max(a, b)
    return {"n": n, "aligner": aligner, "base_no_persona": a, "base_persona": b, "best_baseline": best,
            "best_baseline_name": "base_no_persona" if a >= b else "base_persona", "gain": aligner - best}


@pytest.fixture
def results() -> AlignerResults:
    return AlignerResults(
        aligner="pba",
        beta=0.1,
        sets={"test": _summary(0.80, 0.55, 0.60, 200), "novel": _summary(0.70, 0.50, 0.52, 50),
              "p-soups": _summary(0.50, 0.58, 0.40, 600)},
        by_mode=pd.DataFrame({"mode": ["mixed", "pair", "ugc"], "aligner": [0.8, 0.7, 0.9],
                              "base_no_persona": [0.5, 0.6, 0.55], "base_persona": [0.6, 0.5, 0.7], "n": [80, 60, 60]}),
        robustness=pd.DataFrame({"k": [0, 1, 2, 3, 4], "ugc": [0.5, 0.6, 0.7, 0.75, 0.8],
                                 "pair": [0.5, 0.65, float("nan"), 0.8, 0.85], "n_ugc": [20, 20, 20, 20, 20],
                                 "n_pair": [20, 20, 0, 20, 20]}),
        speed={"pairs": 1000, "seconds": 4.0, "pairs_per_second": 250.0},
        golden={"accuracy": 0.9, "n": 200, "labels_cut": 0},
        control={"flip_non_neutral": 0.85, "flip_neutral": 0.2, "follows_non_neutral": 0.8,
                 "pairs_non_neutral": 100, "pairs_neutral": 120, "dims_measured": 30},
        control_dims=pd.DataFrame({"dim": [16, 20], "flip_non_neutral": [0.9, float("nan")], "flip_neutral": [0.1, 0.3]}),
        skipped={"prism": "source ../shared/benchmarks/prism.json absent"},
        champion={"moved": True, "version": 3, "reason": "alignx-pba version 3 beats the best baseline"},
    )


def test_targets_are_checked_against_the_issue_thresholds(results):
    met = {t["target"]: t["met"] for t in report.targets(results)}
    assert met == {
        "gain over best baseline on test": True,  # +20 points >= 17
        "gain over best baseline on p-soups": False,  # below the prompted base
        "golden-profile accuracy on test": True,
        "flips on non-neutral pairs": True,
        "flips on neutral pairs": False,  # 20 % > 10 %
    }


def test_metrics_document_is_json_numbers_with_nan_as_null(results):
    doc = report.metrics_document(results)
    text = json.dumps(doc, allow_nan=False)  # raises on NaN
    back = json.loads(text)
    assert back["test"]["aligner"] == 0.8 and back["test"]["gain"] == pytest.approx(0.2)
    assert "best_baseline_name" not in back["test"]  # numbers only: DVC compares them
    assert back["test_by_mode"]["ugc"] == {"aligner": 0.9, "base_no_persona": 0.55, "base_persona": 0.7, "n": 60}
    assert back["eval_sets"]["p-soups"]["gain"] == pytest.approx(-0.08)
    assert back["robustness"]["pair"] == {"0": 0.5, "1": 0.65, "3": 0.8, "4": 0.85}  # k=2 not measured
    assert back["golden"]["accuracy"] == 0.9 and back["controllability"]["flip_neutral"] == 0.2
    assert back["champion"] == {"moved": 1, "version": 3}
    assert back["targets_met"]["flips_on_neutral_pairs"] == 0


def test_markdown_report_has_the_paper_table_and_limitations(results):
    text = report.markdown(results)
    header = next(line for line in text.splitlines() if line.startswith("| method |"))
    assert header.split(" | ")[1:] == ["test (all)", "test UGC", "test PAIR", "test MIXED", "novel", "p-soups |"]
    row = next(line for line in text.splitlines() if line.startswith("| PBA (this run)"))
    assert row.split(" | ")[1:4] == ["80.00", "90.00", "70.00"]
    gain = next(line for line in text.splitlines() if line.startswith("| gain over the best baseline"))
    assert gain.split(" | ")[1] == "+20.00"
    assert "prism: source ../shared/benchmarks/prism.json absent" in text
    assert "| flips on neutral pairs | <= 10 % | 20.00 % | **no** |" in text
    assert "Synthetic data" in text and "Model size" in text
    assert "250.0 pairs/s" in text


def test_plots_write_csv_and_png(results, tmp_path):
    written = plots.write_plots(results, tmp_path)
    assert sorted(p.name for p in written) == sorted(plots.FILES + plots.PBA_FILES)
    for png in tmp_path.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    accuracy = pd.read_csv(tmp_path / "accuracy.csv")
    assert set(accuracy["method"]) == {"aligner", "base_no_persona", "base_persona", "golden_profile"}
    assert accuracy.query("eval_set == 'test_ugc' and method == 'aligner'")["accuracy"].item() == 0.9
    curve = pd.read_csv(tmp_path / "robustness.csv")
    assert curve["k"].tolist() == [0, 1, 2, 3, 4] and math.isnan(curve["pair"][2])
