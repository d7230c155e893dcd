"""PBA controllability against its training design: one row per run of format -> reference -> train@pba ->
evaluate@pba, read from that run's metrics files (metrics/pba.json: `controllability`, `test`;
metrics/train_pba.json: steps, seconds per step, val accuracy).

    .venv/bin/python bench/controllability.py "baseline=/path/to/metrics" "neutral .25 + contrast .25=metrics" \
        [--out bench/results] [--note "how the runs were made"]

Each argument is `<setting>=<folder holding pba.json and train_pba.json>`. Targets (issue 26): flip_neutral <= 10 %,
follows_non_neutral >= 80 %, placebo follows ~50 %, PBA test accuracy within its previous 95 % interval. Each rate
and accuracy carries the 95 % interval of metrics/pba.json (cluster bootstrap by user) where the run wrote one, else
a binomial one. Writes bench/results/controllability-<UTC stamp>-<host>-<cores>cpu.{md,json}
(bench/result_files.write_results) and prints the table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
from pathlib import Path

from result_files import write_results  # bench/result_files.py, beside this script

HEADER = ("| setting | flip_neutral (%) | follows_non_neutral (%) | placebo follows (%) | follows_specific (pts) "
          "| median abs shift / common, neutral pairs | PBA test acc (%) | PBA novel acc (%) | PBA val acc (%) "
          "| train steps | train time (min) |")


def _rate(figures: dict, key: str, n: int | None = None) -> str:
    """`figures[key]` in % with its interval: the file's `<key>_ci_low/high`, else binomial over `n`."""
    value = figures[key]
    low, high = figures.get(f"{key}_ci_low"), figures.get(f"{key}_ci_high")
    if low is None and n:
        half = 1.96 * math.sqrt(value * (1 - value) / n)
        low, high = value - half, value + half
    return f"{100 * value:.1f}" + ("" if low is None else f" [{100 * low:.1f}, {100 * high:.1f}]")


def figures(folder: Path) -> dict:
    """The figures of one run: controllability, test, novel and the training summary."""
    pba = json.loads((folder / "pba.json").read_text())
    train = json.loads((folder / "train_pba.json").read_text())
    return {"controllability": pba["controllability"], "test": pba["test"], "novel": pba.get("eval_sets", {}).get("novel"), "train": train}


def row(setting: str, run: dict) -> str:
    """One table row from a run's figures."""
    c, test, novel, train = run["controllability"], run["test"], run["novel"], run["train"]
    minutes = train["steps"] * train["mean/step_seconds"] / 60
    cells = [setting, _rate(c, "flip_neutral"), _rate(c, "follows_non_neutral"), _rate(c, "placebo_follows"),
             f"{100 * c['follows_specific']:+.1f}", f"{c['shift_neutral']:.2f} / {c['common_neutral']:.2f}",
             _rate(test, "aligner", test["n"]), _rate(novel, "aligner", novel["n"]) if novel else "-",
             f"{100 * train['val/accuracy']:.1f}", f"{int(train['steps'])}", f"{minutes:.1f}"]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="<setting>=<metrics folder>")
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    runs = {}
    for spec in args.runs:
        setting, _, folder = spec.partition("=")
        runs[setting] = figures(Path(folder))
    lines = [f"# PBA controllability by training design ({datetime.date.today()}, {platform.node()}, "
             f"{os.cpu_count()} cores)", "", HEADER, "|---|" + "---:|" * (HEADER.count("|") - 2)]
    lines += [row(setting, run) for setting, run in runs.items()]
    lines += ["", "Targets: flip_neutral <= 10 %, follows_non_neutral >= 80 %, placebo follows ~50 %, test accuracy "
              "within its previous interval. Intervals: 95 %, resampled by user. Train time: steps x mean step "
              "seconds (a shared 2-core machine: indicative only)."]
    if args.note:
        lines += ["", args.note]
    write_results(args.out, "controllability", {"runs": runs, "note": args.note}, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
