"""Base retrieval per warm-up design and CPU-minute: which warm-up makes the tiny base read its context?

Each design builds the tiny model (params `base.tiny`, with its own layers / width), warms it up with the stage's
own function (alignx.modeling.warmup: steps, induction curriculum) on the stage's corpus, and measures what the
`base` stage measures (alignx.modeling.retrieval): the copy probe on val ICA examples and the induction score,
plus the LM loss at the end and the CPU time of the warm-up.

    .venv/bin/python bench/base_retrieval.py \\
        --design current:steps=150 --design induction:steps=450,induction_steps=250,induction_share=0.25 \
        --design fixed-span:steps=450,induction_steps=250,induction_share=0.25,span_low=32,span_high=32

A design's keys are base.warmup keys, base.tiny keys, and span_low / span_high (base.warmup.induction_span).
The induction score is measured on spans of 24 tokens: a model that learned "copy from 64 tokens back" on fixed
32-token spans (a positional shortcut, not a lookup by content) scores ~0 there and on the copy probe.

Needs data/pairs (dvc repro pairs) and models/base's tokenizer (dvc repro base). Results go to
bench/results/base_retrieval-<date>-<host>-<cores>.{json,md}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer

from alignx.config import as_dict, load_section
from alignx.modeling.base import TRAIN, VAL, curriculum_of, sample_records, warmup_blocks
from alignx.modeling.model import build_tiny, load_base_spec
from alignx.modeling.retrieval import copy_probe, probe_examples
from alignx.modeling.warmup import induction_phase, induction_score, warmup
from result_files import write_results  # bench/result_files.py, beside this script

TINY_KEYS = {"num_layers", "hidden_size", "intermediate_size", "num_heads", "num_kv_heads"}
FLOAT_KEYS = {"induction_share", "lr", "induction_lr"}


def parse_design(text: str) -> tuple[str, dict[str, float]]:
    """`name:key=value,...` -> (name, overrides of base.warmup / base.tiny keys)."""
    name, _, body = text.partition(":")
    return name, {k: float(v) for k, v in (kv.split("=") for kv in body.split(",") if kv)}


def run_design(name: str, over: dict[str, float], tokenizer, examples, blocks, seed: int) -> dict:
    """Build, warm up and measure one design."""
    p = load_section("base")
    span = (int(over.pop("span_low", p.warmup.induction_span[0])), int(over.pop("span_high", p.warmup.induction_span[1])))
    w = dataclasses.replace(p.warmup, induction_span=span, **{k: v if k in FLOAT_KEYS else int(v)
                                                              for k, v in over.items() if k not in TINY_KEYS})
    over |= {"span_low": span[0], "span_high": span[1]}
    tiny = as_dict(p.tiny) | {k: int(v) for k, v in over.items() if k in TINY_KEYS} | {"seed": seed}
    model = build_tiny(tiny, tokenizer)
    cur = curriculum_of(w, tokenizer)
    start = time.process_time()
    losses = induction_phase(model, cur, seed) + warmup(model, blocks, w.steps, w.batch_size, w.lr, seed, curriculum=cur)
    cpu = time.process_time() - start
    read = copy_probe(model, tokenizer, examples)
    return {"design": name, **over, "cpu_minutes": cpu / 60, "loss_last": float(np.mean(losses[-max(1, len(losses) // 10):])),
            "induction_score": induction_score(model, len(tokenizer), seed), **read}


def run_existing(spec: str, records: int, fmt, spc, seed: int) -> dict:
    """Measure an existing base (`smollm2`, `hf:<folder>`) as it is: no warm-up."""
    model, tokenizer = load_base_spec(spec, "bfloat16" if spec == "smollm2" else "float32")
    examples = probe_examples(VAL, records, tokenizer, fmt, spc)
    start = time.process_time()
    read = copy_probe(model.eval(), tokenizer, examples, batch_size=4)
    vocab = model.get_input_embeddings().weight.shape[0]
    return {"design": spec, "probe_examples": len(examples), "cpu_minutes": (time.process_time() - start) / 60,
            "loss_last": float("nan"), "induction_score": induction_score(model, vocab, seed), **read}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--design", action="append", default=[], help="name:key=value,... (base.warmup/tiny keys)")
    parser.add_argument("--existing", action="append", default=[], help="an existing base to measure: smollm2, hf:<folder>")
    parser.add_argument("--records", type=int, default=0, help="val records of the copy probe (0: base.probe_records)")
    parser.add_argument("--tokenizer", default="models/base")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    p, fmt, spc = load_section("base"), load_section("format"), load_section("space")
    records = args.records or p.probe_records
    rows = []
    for spec in args.existing:
        rows.append(run_existing(spec, records, fmt, spc, p.seed))
        print(json.dumps(rows[-1]), flush=True)
    if args.design:
        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
        examples = probe_examples(VAL, records, tokenizer, fmt, spc)
        blocks = warmup_blocks(sample_records(TRAIN, p.warmup.max_records, p.seed), tokenizer, p.warmup.seq_len, fmt, spc)
        for text in args.design:
            rows.append(run_design(*parse_design(text), tokenizer, examples, blocks, p.seed))
            print(json.dumps(rows[-1]), flush=True)
    lines = [f"Copy probe on the ICA examples of the first {records} val records.", "",
             "| design | settings | CPU min (warm-up; existing: probe) | LM loss (last tenth) | induction score | copy probe |",
             "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        settings = ", ".join(f"{k}={v:g}" for k, v in r.items() if k not in {"design", "cpu_minutes", "loss_last",
                             "induction_score", "copy_probe", "copy_probe_margin"}) or "as released, no warm-up"
        lines.append(f"| {r['design']} | {settings} | {r['cpu_minutes']:.1f} | {r['loss_last']:.2f} | "
                     f"{r['induction_score']:.1%} | {r['copy_probe']:.1%} |")
    write_results(args.out, "base_retrieval", {"probe_records": records, "designs": rows}, lines)


if __name__ == "__main__":
    main()
