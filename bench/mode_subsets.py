"""DPO on one persona mode at a time: how much of its persona can each aligner learn from, at equal data?

ICA trains on a mix of four persona modes (UGC, PAIR, DEMO, mixed), so each mode gets about a quarter of the
train split; PBA sees one kind of input (a profile) in every example. This bench trains the pipeline's DPO
trainer (the aligner's `train` params, the pipeline's base model and cached reference log-probs) on the examples of
the given modes only, for the aligner's epochs unless --steps says otherwise, and reports val accuracy on the same
modes. Running it for ICA's DEMO examples and for PBA's UGC examples (about 3,000 and 4,000) compares the two
aligners at equal data.

    .venv/bin/python bench/mode_subsets.py --aligner ica --modes demo [--steps 0] [--set lr=3e-4 --set epochs=3]

Needs `dvc repro reference` first (data/format, data/reference, models/base). Results go to
bench/results/mode_subsets-<date>-<host>-<cores>.{json,md}, one row appended per run of the same day and host.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

from alignx.config import TrainConfig, as_dict, load_section
from alignx.contracts import BASE_DIR, FORMAT_DIR, REFERENCE_DIR
from alignx.training.trainer import TrainPaths, train


def subset(aligner: str, split: str, modes: list[str], folder: Path) -> tuple[str, str, int]:
    """The split's examples of `modes` and their reference log-probs, written under `folder`."""
    examples = pd.read_parquet(FORMAT_DIR / aligner / f"{split}.parquet")
    examples = examples[examples["mode"].isin(modes)]
    if examples.empty:
        raise SystemExit(f"{FORMAT_DIR / aligner / split}.parquet: no examples of modes {modes}")
    reference = pd.read_parquet(REFERENCE_DIR / aligner / f"{split}.parquet")
    paths = (str(folder / f"{split}.parquet"), str(folder / f"{split}_ref.parquet"))
    examples.to_parquet(paths[0], index=False)
    reference[reference["example_id"].isin(examples["example_id"])].to_parquet(paths[1], index=False)
    return *paths, len(examples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aligner", choices=["ica", "pba"], required=True)
    parser.add_argument("--modes", required=True, help="comma-separated persona modes, e.g. demo or ugc,pair")
    parser.add_argument("--steps", type=int, default=0, help="optimizer steps (0: the `train` epochs)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a `train` param override")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    modes = args.modes.split(",")
    overrides = {k: yaml.safe_load(v) for k, v in (kv.split("=", 1) for kv in args.set)}
    # The pipeline's `train` params for this aligner (train.aligners.<aligner> applied), then --set.
    params = as_dict(load_section("train").for_aligner(args.aligner)) | overrides
    params |= {"max_steps": args.steps, "checkpoint_every": 10**9}
    started, t0 = datetime.datetime.now(), time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        train_ex, train_ref, n_train = subset(args.aligner, "train", modes, Path(tmp))
        val_ex, val_ref, n_val = subset(args.aligner, "val", modes, Path(tmp))
        summary = train(TrainConfig.from_params(params), TrainPaths(train_ex, train_ref, str(BASE_DIR), f"{tmp}/model",
                                                                    f"{tmp}/ckpt", val_ex, val_ref))
    row = {"aligner": args.aligner, "modes": args.modes, "overrides": overrides, "train_examples": n_train,
           "val_examples": n_val, "steps": int(summary["steps"]), "train_loss_last": summary["loss"],
           "val_loss": summary["val/loss"], "val_accuracy": summary["val/accuracy"],
           "seconds": round(time.perf_counter() - t0)}
    print(f"[modes] {args.aligner} on {args.modes} ({n_train} train examples, {row['steps']} steps): val accuracy "
          f"{row['val_accuracy']:.1%} on {n_val}, val loss {row['val_loss']:.3f} (log 2 = 0.693)", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"mode_subsets-{started:%Y-%m-%d}-{platform.node() or 'host'}-{os.cpu_count()}cpu"
    rows = json.loads(stem.with_suffix(".json").read_text())["runs"] if stem.with_suffix(".json").exists() else []
    rows.append(row)
    stem.with_suffix(".json").write_text(json.dumps({"runs": rows}, indent=2) + "\n")
    lines = ["| aligner | modes | overrides | train examples | steps | last train loss | val loss | val accuracy |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['aligner']} | {r['modes']} | {r['overrides'] or '-'} | {r['train_examples']} | {r['steps']} | "
              f"{r['train_loss_last']:.3f} | {r['val_loss']:.3f} | {r['val_accuracy']:.1%} ({r['val_examples']}) |"
              for r in rows]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"[modes] wrote {stem}.json and .md")


if __name__ == "__main__":
    main()
