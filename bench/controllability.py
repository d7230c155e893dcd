"""PBA controllability against its training design: one row per run of format -> reference -> train@pba ->
evaluate@pba, read from that run's metrics files (metrics/pba.json: `controllability`, `test`;
metrics/train_pba.json: steps, seconds per step, val accuracy).

    .venv/bin/python bench/controllability.py "baseline=/path/to/metrics" "neutral .25 + contrast .25=metrics" \
        [--out bench/results] [--note "how the runs were made"]

Each argument is `<setting>=<folder holding pba.json and train_pba.json>`. Targets (issue 26): flip_neutral <= 10 %,
follows_non_neutral >= 80 %, placebo follows ~50 %, PBA test accuracy within its previous 95 % interval. Writes
bench/results/controllability-<date>-<host>-<cores>.md and prints it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
from pathlib import Path

HEADER = ("| setting | flip_neutral (%) | follows_non_neutral (%) | placebo follows (%) | follows_specific (pts) "
          "| median abs shift / common, neutral pairs | PBA test acc (%) [95 % binomial] | PBA val acc (%) "
          "| train steps | train time (min) |")


def row(setting: str, folder: Path) -> str:
    """One table row from a run's metrics folder."""
    pba = json.loads((folder / "pba.json").read_text())
    train = json.loads((folder / "train_pba.json").read_text())
    c, test = pba["controllability"], pba["test"]
    acc, n = test["aligner"], test["n"]
    half = 1.96 * math.sqrt(acc * (1 - acc) / n)
    minutes = train["steps"] * train["mean/step_seconds"] / 60
    cells = [setting, f"{100 * c['flip_neutral']:.1f}", f"{100 * c['follows_non_neutral']:.1f}",
             f"{100 * c['placebo_follows']:.1f}", f"{100 * c['follows_specific']:+.1f}",
             f"{c['shift_neutral']:.2f} / {c['common_neutral']:.2f}",
             f"{100 * acc:.1f} [{100 * (acc - half):.1f}, {100 * (acc + half):.1f}]",
             f"{100 * train['val/accuracy']:.1f}", f"{int(train['steps'])}", f"{minutes:.1f}"]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="<setting>=<metrics folder>")
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    lines = [f"# PBA controllability by training design ({datetime.date.today()}, {platform.node()}, "
             f"{os.cpu_count()} cores)", "", HEADER, "|---|" + "---:|" * (HEADER.count("|") - 2)]
    for spec in args.runs:
        setting, _, folder = spec.partition("=")
        lines.append(row(setting, Path(folder)))
    lines += ["", "Targets: flip_neutral <= 10 %, follows_non_neutral >= 80 %, placebo follows ~50 %, test accuracy "
              "within its previous interval. Train time: steps x mean step seconds (a shared 2-core machine: "
              "indicative only)."]
    if args.note:
        lines += ["", args.note]
    text = "\n".join(lines) + "\n"
    out = Path(args.out) / f"controllability-{datetime.date.today()}-vm-{os.cpu_count()}cpu.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
