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


def _readers(n):
    """Readers of a set with n judged pairs (none on a benchmark: no direction vectors, no users)."""
    value = lambda acc: {"accuracy": acc if n else float("nan"), "aligner": 0.8 if n else float("nan"), "n": n}  # noqa: E731
    return {"tone": value(0.5), "tone_oracle": value(0.52), "inferred_profile": value(0.7), "user_profile": value(0.95)}


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
        readers={"test": _readers(200), "novel": _readers(50), "p-soups": _readers(0)},
        evidence={"test": {"favours": {"accuracy": 0.9, "n": 80}, "silent": {"accuracy": 0.75, "n": 100},
                           "misleads": {"accuracy": 0.7, "n": 20}},
                  "novel": {k: {"accuracy": 0.6, "n": 10} for k in ("favours", "silent", "misleads")},
                  "p-soups": {k: {"accuracy": float("nan"), "n": 0} for k in ("favours", "silent", "misleads")}},
        oracle={"accuracy": 0.9, "n": 200, "labels_cut": 0},
        control={"flip_non_neutral": 0.85, "flip_neutral": 0.2, "follows_non_neutral": 0.8,
                 "flip_right_non_neutral": 0.7, "pairs_non_neutral": 100, "pairs_neutral": 120, "dims_measured": 30,
                 "placebo_follows": 0.55, "placebo_flip": 0.3, "pairs_placebo": 100, "follows_specific": 0.25,
                 "shift_non_neutral": 2.5, "common_non_neutral": 1.0, "shift_neutral": 0.2, "common_neutral": 1.5,
                 "shift_placebo": 0.3, "common_placebo": 1.25},
        control_dims=pd.DataFrame({"dim": [16, 20], "flip_non_neutral": [0.9, float("nan")], "flip_neutral": [0.1, 0.3]}),
        champion={"moved": True, "version": 3, "reason": "alignx-pba version 3 beats the best baseline"},
    )


def test_targets_are_checked_against_the_issue_thresholds(results):
    met = {t["target"]: t["met"] for t in report.targets(results)}
    assert met == {
        "gain over best baseline on test": True,  # +20 points >= 17
        "gain over best baseline on p-soups": False,  # below the prompted base
        "oracle-profile accuracy on test": True,
        "follows on non-neutral pairs": True,  # 80 % >= 80 %
        "flips on neutral pairs": False,  # 20 % > 10 %
        "placebo follows": True,  # 55 %: inside 45-55 %
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
    assert back["oracle"]["accuracy"] == 0.9
    c = back["controllability"]
    assert (c["flip_neutral"], c["follows_non_neutral"], c["placebo_follows"]) == (0.2, 0.8, 0.55)
    assert back["readers"]["tone"] == {"accuracy": 0.5, "aligner": 0.8, "n": 200}
    assert set(back["readers"]) == {"tone", "tone_oracle", "inferred_profile", "user_profile"}
    assert back["evidence"]["misleads"] == {"accuracy": 0.7, "n": 20}
    assert back["eval_sets"]["novel"]["readers"]["inferred_profile"]["n"] == 50
    assert back["eval_sets"]["p-soups"]["readers"]["user_profile"] == {"accuracy": None, "aligner": None, "n": 0}
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
    assert "| flips on neutral pairs | <= 10 % | 20.00 % | **no** |" in text
    assert "Synthetic data" in text and "Model size" in text
    assert "250.0 pairs/s" in text


def test_markdown_report_puts_the_aligner_next_to_every_reader(results):
    text = report.markdown(results)
    assert "## Readers" in text and "### test" in text and "### novel" in text
    assert "### p-soups" not in text  # nothing a reader could judge there
    test_part = text.split("### test")[1].split("### novel")[0]
    row = next(line for line in test_part.splitlines() if line.startswith("| inferred_profile |"))
    assert row.split(" | ")[2:] == ["70.00", "80.00", "200 |"]  # reader, PBA on the same pairs, pairs
    assert "| favours the chosen response | 90.00 | 80 |" in text
    assert "| favours the rejected response | 70.00 | 20 |" in text
    assert "the pair's own judged direction, an oracle as in the paper's table" in text
    assert "| placebo: the same non-neutral pairs, an unrelated dimension's labels | 30.00 | 55.00 | 100 |" in text
    assert "Median |shift| / |common|: non-neutral 2.50 / 1.00, neutral 0.20 / 1.50, placebo 0.30 / 1.25." in text
    assert "+25.00 points" in text


def test_plots_write_csv_and_png(results, tmp_path):
    written = plots.write_plots(results, tmp_path)
    assert sorted(p.name for p in written) == sorted(plots.FILES + plots.PBA_FILES)
    for png in tmp_path.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    accuracy = pd.read_csv(tmp_path / "accuracy.csv")
    assert set(accuracy["method"]) == {"aligner", "base_no_persona", "base_persona", "oracle_profile"}
    assert accuracy.query("eval_set == 'test_ugc' and method == 'aligner'")["accuracy"].item() == 0.9
    curve = pd.read_csv(tmp_path / "robustness.csv")
    assert curve["k"].tolist() == [0, 1, 2, 3, 4] and math.isnan(curve["pair"][2])
