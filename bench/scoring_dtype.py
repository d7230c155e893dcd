"""Scoring speed and agreement of float32 against bfloat16 on this CPU: the measurement behind `base.dtype`.

Every scoring pass of the pipeline (reference, eval inputs, evaluation) loads the models in the base folder's
stored dtype (`alignx.modeling.model.stored_dtype`). This bench scores the same formatted examples with the base
model in both dtypes, through the pipeline's own `score_examples` (packed pairs, LM head at response positions):

    pairs/s, tokens/s   per dtype (tokens: prompt + chosen + rejected, no padding)
    max |diff|          largest log-prob difference between the dtypes (summed over a response)
    same preference     share of pairs on which both dtypes prefer the same response (base, no training)

    .venv/bin/python bench/scoring_dtype.py [--base models/base] [--examples data/format/ica/val.parquet]
                                            [--n 64] [--batch 16] [--out bench/results]

Results go to bench/results/scoring_dtype-<date>-<host>-<cores>cpu.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from train_throughput import machine  # bench/ is on sys.path when this file runs as a script

from alignx.modeling.logprobs import score_examples
from alignx.modeling.model import load_hf
from alignx.modeling.tokenizer import pad_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="models/base", help="model folder (loaded in each dtype in turn)")
    parser.add_argument("--examples", default="data/format/ica/val.parquet", help="formatted examples to score")
    parser.add_argument("--n", type=int, default=64, help="examples scored (the first n)")
    parser.add_argument("--batch", type=int, default=16, help="pairs per forward pass")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    started = datetime.datetime.now()
    frame = pd.read_parquet(args.examples).iloc[: args.n]
    tokens = int(sum(len(p) + len(c) + len(r) for p, c, r in zip(frame.prompt_ids, frame.chosen_ids, frame.rejected_ids)))
    record = {"date": started.isoformat(timespec="seconds"), "machine": machine(), "base": args.base,
              "examples": args.examples, "pairs": len(frame), "tokens": tokens, "batch": args.batch, "dtypes": {}}
    scores = {}
    for dtype in (torch.float32, torch.bfloat16):
        model, tokenizer = load_hf(args.base, dtype)
        score_examples(model, frame.iloc[: args.batch], args.batch, pad_id(tokenizer), progress=False)  # warm-up
        start = time.perf_counter()
        scores[dtype] = np.stack(score_examples(model, frame, args.batch, pad_id(tokenizer)))
        seconds = time.perf_counter() - start
        name = str(dtype).removeprefix("torch.")
        record["dtypes"][name] = {"seconds": round(seconds, 2), "pairs_per_second": round(len(frame) / seconds, 2),
                                  "tokens_per_second": round(tokens / seconds)}
        print(f"[scoring] {name}: {len(frame) / seconds:.2f} pairs/s, {tokens / seconds:.0f} tokens/s", flush=True)
    fp32, bf16 = scores[torch.float32], scores[torch.bfloat16]
    record["max_abs_diff"] = float(np.abs(fp32 - bf16).max())
    record["same_preference"] = float(((fp32[0] > fp32[1]) == (bf16[0] > bf16[1])).mean())
    record["speedup_bf16"] = round(record["dtypes"]["bfloat16"]["tokens_per_second"]
                                   / record["dtypes"]["float32"]["tokens_per_second"], 2)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"scoring_dtype-{started:%Y-%m-%dT%H%M}-{record['machine']['host'] or 'host'}-{record['machine']['nproc']}cpu"
    stem.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    lines = [f"# Scoring dtype, {record['date']}", "",
             f"{record['machine']['cpu_model']}, {record['machine']['nproc']} cores; {args.base}, {len(frame)} pairs of "
             f"{args.examples} ({tokens} tokens), batch {args.batch}", "",
             "| dtype | pairs/s | tokens/s |", "|---|---:|---:|"]
    lines += [f"| {name} | {d['pairs_per_second']} | {d['tokens_per_second']} |" for name, d in record["dtypes"].items()]
    lines += ["", f"bfloat16 / float32 speed: {record['speedup_bf16']}x; largest summed log-prob difference "
              f"{record['max_abs_diff']:.3f}; same preferred response on {record['same_preference']:.1%} of pairs."]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"[scoring] bf16 {record['speedup_bf16']}x fp32; max |diff| {record['max_abs_diff']:.3f}; "
          f"same preference {record['same_preference']:.1%}; wrote {stem}.json and .md")


if __name__ == "__main__":
    main()
