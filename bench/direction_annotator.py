"""The direction annotator's cost and quality per configuration: the measurement behind the `directions` params.

Trains on the distinct history items of data/pairs/train.parquet (the epoch kept chosen on val items), exactly as
the `directions` stage does (`alignx.annotation.training.fit`), then predicts the test and novel items:

    fit s, predict s          wall seconds of training (all epochs + per-epoch val) and of predicting test + novel
    macro-F1                  per-dimension macro-F1 over {negative, neutral, positive}, overall and per group
    non-neutral acc           accuracy on the entries whose true direction is not neutral
    UGC / PAIR macro-F1       the same, test items of one kind

    .venv/bin/python bench/direction_annotator.py ['{"hidden": 256, "lr": 0.01}' ...] [--threads 2]

Each positional argument is a JSON object of `directions` keys written over params.yaml's section (none: the
section as it is). Prints one block per configuration.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import torch

from alignx.annotation import metrics
from alignx.annotation.features import history_items, labels, unique_items
from alignx.annotation.training import fit
from alignx.config import load_section
from alignx.contracts import PAIRS_DIR
from alignx.inputs.examples import iter_records


def items(split: str):
    return unique_items(history_items([r for chunk in iter_records(PAIRS_DIR / f"{split}.parquet") for r in chunk]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("configs", nargs="*", help="JSON objects of directions keys over params.yaml")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = {s: items(s) for s in ("train", "val", "test", "novel")}
    print({s: len(v) for s, v in data.items()}, "distinct items")
    base = load_section("directions")
    for text in args.configs or ["{}"]:
        cfg = dataclasses.replace(base, **json.loads(text))
        result = fit(data["train"], data["val"], cfg)
        start = time.perf_counter()
        found = {s: metrics.summary(labels(data[s]), result.annotator.classes(data[s])) for s in ("test", "novel")}
        predict = time.perf_counter() - start
        print(f"\n{text}: fit {result.seconds:.1f} s, predict {predict:.1f} s, best epoch {result.best_epoch}, "
              f"val curve {result.curve}")
        for split, figures in found.items():
            print(f"  {split}: macro-F1 {figures['macro_f1']}, non-neutral acc {figures['non_neutral_accuracy']}")
        for kind in ("ugc", "pair"):
            sub = data["test"][data["test"]["kind"] == kind]
            print(f"  test {kind}: macro-F1 {metrics.summary(labels(sub), result.annotator.classes(sub))['macro_f1']}")


if __name__ == "__main__":
    main()
