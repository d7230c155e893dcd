"""The verbatim-copy probe: can the tiny base, and DPO on top of it, read text out of an ICA prompt at all?

ICA's only signal is history text that reappears in the chosen response. This probe makes that signal as strong
as it can be: every ICA example gets the chosen response itself, word for word, as one more UGC comment at the
start of its history. It reports, on the formatted val split:

    base   how often the base model prefers the response it was just shown (summed log-probs). A language model
           with in-context copying (induction heads, as any pretrained LM has) is near 100 %.
    dpo    with --steps N: val accuracy (implicit reward, as the pipeline measures it) after N steps of the
           pipeline's DPO trainer, `train` params, on the first N x global_batch probed train examples.

    .venv/bin/python bench/copy_probe.py [--base models/base] [--steps 300] [--out bench/results]

Needs `dvc repro reference` first (data/format/ica, models/base). Results go to
bench/results/copy_probe-<date>-<host>-<cores>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

import pandas as pd
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from alignx.config import TrainConfig, as_dict, load_section
from alignx.contracts import FORMAT_DIR
from alignx.modeling.logprobs import score_examples
from alignx.modeling.retrieval import probed
from alignx.modeling.tokenizer import pad_id
from alignx.training.trainer import TrainPaths, train
from result_files import write_results  # bench/result_files.py, beside this script


def scored(model, frame: pd.DataFrame, pad: int) -> pd.DataFrame:
    """`frame` with the model's summed response log-probs as its reference columns."""
    chosen, rejected = score_examples(model, frame, 32, pad)
    return frame.assign(ref_chosen=chosen, ref_rejected=rejected)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="models/base")
    parser.add_argument("--steps", type=int, default=300, help="DPO steps on probed examples (0: base only)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(args.base)
    model = AutoModelForCausalLM.from_pretrained(args.base, dtype=torch.float32).eval()
    pad = pad_id(tokenizer)
    val = scored(model, probed(pd.read_parquet(FORMAT_DIR / "ica" / "val.parquet"), tokenizer), pad)
    record = {"base": args.base, "val_examples": len(val), "machine": {"host": platform.node(), "nproc": os.cpu_count()},
              "base_prefers_shown": float((val["ref_chosen"] > val["ref_rejected"]).mean()),
              "base_mean_margin": float((val["ref_chosen"] - val["ref_rejected"]).mean())}
    print(f"[probe] base prefers the response shown verbatim on {record['base_prefers_shown']:.1%} of "
          f"{len(val)} val pairs (mean log-prob margin {record['base_mean_margin']:+.2f})", flush=True)
    if args.steps:
        params = as_dict(load_section("train").for_aligner("ica"))
        cfg = TrainConfig.from_params(params | {"max_steps": args.steps, "checkpoint_every": 10**9})
        n = args.steps * cfg.global_batch
        train_frame = pd.read_parquet(FORMAT_DIR / "ica" / "train.parquet").iloc[:n]
        train_frame = scored(model, probed(train_frame, tokenizer), pad)
        with tempfile.TemporaryDirectory() as tmp:
            files = {}
            for name, frame in (("train", train_frame), ("val", val)):
                files[name] = (Path(tmp) / f"{name}.parquet", Path(tmp) / f"{name}_ref.parquet")
                frame.drop(columns=["ref_chosen", "ref_rejected"]).to_parquet(files[name][0], index=False)
                frame[["example_id", "ref_chosen", "ref_rejected"]].to_parquet(files[name][1], index=False)
            paths = TrainPaths(str(files["train"][0]), str(files["train"][1]), args.base, f"{tmp}/model", f"{tmp}/ckpt",
                               str(files["val"][0]), str(files["val"][1]))
            summary = train(cfg, paths)
        record |= {"dpo_steps": args.steps, "dpo_train_examples": len(train_frame),
                   "dpo_val_accuracy": summary["val/accuracy"], "dpo_val_loss": summary["val/loss"]}
        print(f"[probe] after {args.steps} DPO steps on probed examples: val accuracy {summary['val/accuracy']:.1%}")
    lines = ["| measurement | value |", "|---|---:|", f"| base prefers the response shown verbatim | {record['base_prefers_shown']:.1%} |"]
    if args.steps:
        lines.append(f"| val accuracy after {args.steps} DPO steps on probed examples | {record['dpo_val_accuracy']:.1%} |")
    write_results(args.out, "copy_probe", record, lines)


if __name__ == "__main__":
    main()
