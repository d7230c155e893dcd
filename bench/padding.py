"""Padding in the trainer's batches: how much of each forward pass is padding, with and without length grouping.

The trainer runs each pair as one packed row (`prompt + chosen + rejected`) and pads a micro-batch to its longest
row. This replays the trainer's batch order (`Batches`, `train` params of each aligner, `train.aligners` applied)
over one epoch of the formatted train split and counts, for each `length_group_steps` given:

* positions run (padded rows) against real tokens: the padding share;
* (query, key) pairs of a padded attention against the real ones: attention work, which grows with the square.

No model runs, so it takes seconds; the time saved shows in `metrics/train_<aligner>.json` (mean/step_seconds).

    .venv/bin/python bench/padding.py [--group-steps 0,10,50] [--out bench/results]

Needs `dvc repro format` first (data/format). Results go to bench/results/padding-<date>-<host>-<cores>.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
from pathlib import Path

import numpy as np
import pandas as pd

from alignx.config import load_section
from alignx.contracts import ALIGNERS, FORMAT_DIR
from alignx.training.data import Batches, sequence_lengths


def padding(aligner: str, group_steps: list[int]) -> list[dict[str, float]]:
    """Padding share and attention work of one epoch of `aligner`'s train batches at each of `group_steps`."""
    cfg = load_section("train").for_aligner(aligner)
    frame = pd.read_parquet(FORMAT_DIR / aligner / "train.parquet", columns=["prompt_ids", "chosen_ids", "rejected_ids"])
    rows = (frame["prompt_ids"].map(len) + frame["chosen_ids"].map(len) + frame["rejected_ids"].map(len)).to_numpy()
    lengths = sequence_lengths(frame)  # what the trainer sorts by
    out = []
    for k in group_steps:
        batches = Batches(len(frame), cfg.global_batch, cfg.seed, k, lengths)
        run = attended = 0
        for step in range(batches.steps_per_epoch):
            for idx in batches.micro_batches(step, lengths, 0, 1, cfg.micro_batch):
                width = int(rows[idx].max())
                run, attended = run + len(idx) * width, attended + len(idx) * width**2
        seen = np.concatenate([batches.step_indices(s) for s in range(batches.steps_per_epoch)])
        real, real_pairs = int(rows[seen].sum()), int((rows[seen] ** 2).sum())
        out.append({"aligner": aligner, "group_steps": k, "steps": batches.steps_per_epoch,
                    "positions_run": run, "padding_share": 1 - real / run, "attention_pairs_run": attended,
                    "attention_padding_share": 1 - real_pairs / attended})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group-steps", default="0,10,50", help="comma-separated length_group_steps values")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    started = datetime.datetime.now()
    group_steps = [int(g) for g in args.group_steps.split(",")]
    results = [r for a in ALIGNERS for r in padding(a, group_steps)]
    lines = ["| aligner | length_group_steps | positions run (M) | padding | attention pairs run (G) | attention on padding |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in results:
        base = next(b for b in results if b["aligner"] == r["aligner"])
        lines.append(f"| {r['aligner']} | {r['group_steps']} | {r['positions_run'] / 1e6:.2f} "
                     f"({r['positions_run'] / base['positions_run']:.2f}x) | {r['padding_share']:.1%} | "
                     f"{r['attention_pairs_run'] / 1e9:.2f} ({r['attention_pairs_run'] / base['attention_pairs_run']:.2f}x) | "
                     f"{r['attention_padding_share']:.1%} |")
    print("\n".join(lines))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"padding-{started:%Y-%m-%dT%H%M}-{platform.node() or 'host'}-{os.cpu_count()}cpu"
    record = {"machine": {"host": platform.node(), "nproc": os.cpu_count()}, "results": results}
    stem.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    stem.with_suffix(".md").write_text("One epoch of each aligner's train batches (`bench/padding.py`), packed rows.\n\n"
                                       + "\n".join(lines) + "\n")
    print(f"[padding] wrote {stem}.json and .md")


if __name__ == "__main__":
    main()
