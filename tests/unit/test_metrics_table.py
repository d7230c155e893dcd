"""`make metrics`: a narrow table of the figures DVC tracks, filtered by key."""

from alignx.ops.metrics_table import HEADLINE, markdown, rows

SHOWN = {"": {"data": {
    "metrics/pba.json": {"data": {"test": {"n": 1000, "aligner": 0.841, "gain": 0.325},
                                  "eval_sets": {"novel": {"aligner": 0.68, "readers": {"tone": {"aligner": 0.5}}}},
                                  "speed": {"seconds": 12.0}}},
    "metrics/train_pba.json": {"data": {"val/accuracy": 0.832, "val/loss": 0.4}},
}}}


def test_headline_keys_only_one_row_per_figure():
    found = rows(SHOWN, HEADLINE)
    assert [(f, k) for _, f, k, _ in found] == [
        ("metrics/pba.json", "test.aligner"), ("metrics/pba.json", "test.gain"),
        ("metrics/pba.json", "eval_sets.novel.aligner"), ("metrics/train_pba.json", "val/accuracy")]
    table = markdown(found).splitlines()
    assert table[0] == "| file | key | value |" and "| metrics/pba.json | test.aligner | 0.841 |" in table


def test_any_expression_selects_keys():
    assert [k for _, _, k, _ in rows(SHOWN, "speed")] == ["speed.seconds"]
