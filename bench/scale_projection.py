"""FLOPs and tokens per record of each model stage, measured on the default pipeline's data, and each stage's
projected time for the paper's scale: 1.3M records, a Llama-3.1-8B-shaped model, N GPUs.

    PYTHONPATH=src:. .venv/bin/python bench/scale_projection.py [--gpus 8] [--records 1300000] [--out bench/results]

Counting is the trainer's (alignx.training.flops through throughput.ModelShape): the decoder body at every position a
packed `prompt + chosen + rejected` row runs, the LM head only at response-predicting positions, the attention scores
at the (query, key) pairs the mask lets through; a training step costs 6 N per token, a scoring pass the forward third
(flops.forward_flops). Model shapes are built from their configs on the meta device (no weights): the default tiny
model (models/base/config.json), SmolLM2-135M and Llama-3.1-8B (their public configs).

Per stage and record (default data, the tiny tokenizer's lengths):
- reference / eval_inputs: one forward of the base model per example (the rows training reads; every eval example);
- train@<aligner>: one training step's share per example read (epochs x rows read);
- evaluate@<aligner>: the pairs evaluation scores per eval example (metrics/<aligner>.json `speed.pairs`: the aligner
  and the base model on every variant input), one forward each;
- generate@<aligner>: three models (aligner, two baselines) decode `generate.max_new_tokens` after a prefill.
At the paper's scale a record is assumed to be a 2,600-token ICA prompt and two 200-token responses (~3k positions
packed, within max_len 8192). Assumptions for the projection (H100 SXM, bf16): dense peak 989 TFLOP/s; MFU 40 % for
ZeRO-3 training, 50 % for scoring forwards and prefill; decoding is bandwidth-bound: each step reads the weights and the
batch's KV cache at 60 % of 3.35 TB/s, with 64 sequences per GPU. The default run's measured seconds (MLflow) give
the achieved FLOP/s on this machine for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import pandas as pd
import torch
from transformers import AutoConfig, LlamaConfig, LlamaForCausalLM

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from alignx.config import load_section  # noqa: E402
from alignx.modeling.logprobs import collate_pairs  # noqa: E402
from alignx.training import flops  # noqa: E402
from alignx.training.data import rows_read  # noqa: E402
from alignx.training.throughput import ModelShape  # noqa: E402
from result_files import write_results  # bench/result_files.py, beside this script

SMOLLM2_135M = dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                    num_attention_heads=9, num_key_value_heads=3, tie_word_embeddings=True)
LLAMA_31_8B = dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                   num_attention_heads=32, num_key_value_heads=8, tie_word_embeddings=False)
PAPER_RECORD = {"prompt": 2600, "chosen": 200, "rejected": 200}  # ~3k packed positions, within max_len 8192
H100 = {"peak_bf16": 989e12, "bandwidth": 3.35e12, "mfu_train": 0.40, "mfu_forward": 0.50, "bandwidth_use": 0.60,
        "decode_batch": 64}


def shape_of(config: dict | LlamaConfig) -> ModelShape:
    """The FLOPs shape of a Llama built from `config` on the meta device (no memory, no weights)."""
    cfg = config if isinstance(config, LlamaConfig) else LlamaConfig(**config)
    with torch.device("meta"):
        model = LlamaForCausalLM(cfg)
    return ModelShape.of(model)


def counts(frame: pd.DataFrame) -> dict[str, float]:
    """Per-example means of a formatted frame as packed rows: positions run, head positions, attended pairs."""
    tokens = head = pairs = 0
    for start in range(0, len(frame), 256):
        part = frame.iloc[start : start + 256]
        batch = collate_pairs(part["prompt_ids"].tolist(), part["chosen_ids"].tolist(), part["rejected_ids"].tolist(), 0)
        t, h = flops.counted_tokens(batch)
        tokens, head, pairs = tokens + t, head + h, pairs + flops.attended_pairs(batch)
    n = max(len(frame), 1)
    return {"tokens": tokens / n, "head_tokens": head / n, "pairs": pairs / n, "examples": len(frame)}


def paper_counts() -> dict[str, float]:
    p, c, r = PAPER_RECORD["prompt"], PAPER_RECORD["chosen"], PAPER_RECORD["rejected"]
    tri = lambda n: n * (n + 1) / 2  # noqa: E731
    return {"tokens": p + c + r, "head_tokens": c + r, "pairs": tri(p) + c * p + tri(c) + r * p + tri(r)}


def forward(shape: ModelShape, k: dict[str, float]) -> float:
    return (flops.forward_flops(shape.matmul_params, k["tokens"], shape.head_params, k["head_tokens"])
            + flops.attention_forward_flops(k["pairs"], shape.attention_width, shape.layers))


def train_step(shape: ModelShape, k: dict[str, float]) -> float:
    return (flops.training_flops(shape.matmul_params, k["tokens"], shape.head_params, k["head_tokens"])
            + flops.attention_flops(k["pairs"], shape.attention_width, shape.layers))


def read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path, columns=["prompt_ids", "chosen_ids", "rejected_ids"])


def default_workload() -> dict[str, dict]:
    """Per stage: examples processed, mean counts per example, and the FLOPs multiplier per example (forward passes,
    or training steps' shares)."""
    train_cfg, gen = load_section("train"), load_section("generate")
    out: dict[str, dict] = {}
    eval_files = sorted((ROOT / "data" / "eval").glob("*/format/*/*.parquet"))
    eval_frames = {a: pd.concat([read(f) for f in eval_files if f.parent.name == a]) for a in ("ica", "pba")}
    ref_parts = []
    for aligner in ("ica", "pba"):
        train = read(ROOT / "data/format" / aligner / "train.parquet")
        cfg = train_cfg.for_aligner(aligner)
        rows = rows_read(train, cfg.global_batch, cfg.seed, cfg.length_group_steps, cfg.epochs, cfg.max_steps)
        read_frame = train.iloc[rows]
        ref_parts += [read_frame, read(ROOT / "data/format" / aligner / "val.parquet")]
        k = counts(read_frame)
        out[f"train@{aligner}"] = {**k, "kind": "train", "passes": float(cfg.epochs if cfg.max_steps == 0 else
                                   cfg.max_steps * cfg.global_batch / max(len(rows), 1))}
        metrics = ROOT / "metrics" / f"{aligner}.json"
        pairs = json.loads(metrics.read_text())["speed"]["pairs"] if metrics.exists() else float("nan")
        ke = counts(eval_frames[aligner])
        out[f"evaluate@{aligner}"] = {**ke, "kind": "forward", "passes": pairs / max(ke["examples"], 1)}
        n_gen = sum(gen.records.values()) if isinstance(gen.records, dict) else 0
        out[f"generate@{aligner}"] = {**ke, "examples": n_gen, "kind": "generate", "passes": 3.0,
                                      "new_tokens": gen.max_new_tokens}
    out["reference"] = {**counts(pd.concat(ref_parts)), "kind": "forward", "passes": 1.0}
    out["eval_inputs"] = {**counts(pd.concat(eval_frames.values())), "kind": "forward", "passes": 1.0}
    return out


def stage_flops(shape: ModelShape, w: dict) -> float:
    """FLOPs per example of one stage."""
    if w["kind"] == "train":
        return w["passes"] * train_step(shape, w)
    if w["kind"] == "generate":  # prefill the prompt, then one token at a time (2 N per token, attention over context)
        prompt = {"tokens": w["tokens"] - w["head_tokens"], "head_tokens": 1, "pairs": w["pairs"] / 2}
        n = w["new_tokens"]
        ctx = prompt["tokens"] + n / 2
        decode = {"tokens": n, "head_tokens": n, "pairs": n * ctx}
        return w["passes"] * (forward(shape, prompt) + forward(shape, decode))
    return w["passes"] * forward(shape, w)


def decode_seconds(shape: ModelShape, w: dict, records: float, gpus: int, config: dict) -> float:
    """Bandwidth-bound decoding: every step reads the bf16 weights and the batch's KV cache."""
    batch, n = H100["decode_batch"], w["new_tokens"]
    kv_per_token = 2 * config["num_hidden_layers"] * config["num_key_value_heads"] * (
        config["hidden_size"] // config["num_attention_heads"]) * 2  # K and V, bf16
    ctx = (w["tokens"] - w["head_tokens"]) + n / 2
    step_bytes = 2 * (shape.matmul_params + config["vocab_size"] * config["hidden_size"]) + batch * ctx * kv_per_token
    steps = w["passes"] * records / (batch * gpus) * n
    return steps * step_bytes / (H100["bandwidth"] * H100["bandwidth_use"])


def measured_seconds() -> dict[str, float]:
    """Stage seconds of the latest full default pipeline run in mlflow.db (the parent run with the most stages)."""
    try:
        from mlflow import MlflowClient

        client = MlflowClient(f"sqlite:///{ROOT / 'mlflow.db'}")
        exp = client.get_experiment_by_name("alignx")
        parents = client.search_runs([exp.experiment_id], "tags.`alignx.pipeline` LIKE '%'", max_results=20,
                                     order_by=["attributes.start_time DESC"])
        best: dict[str, float] = {}
        for parent in parents:
            runs = client.search_runs([exp.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
            found = {r.data.tags.get("alignx.pipeline.stage", ""): (r.info.end_time - r.info.start_time) / 1000
                     for r in runs if r.info.end_time}
            if len(found) > len(best):
                best = found
        return best
    except Exception as exc:  # the projection stands without the measured column
        print(f"no measured seconds ({exc})")
        return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--records", type=float, default=1.3e6)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    os.chdir(ROOT)
    tiny_cfg = AutoConfig.from_pretrained(ROOT / "models" / "base")
    shapes = {"tiny": shape_of(tiny_cfg), "smollm2-135m": shape_of(SMOLLM2_135M), "llama-3.1-8b": shape_of(LLAMA_31_8B)}
    work = default_workload()
    seconds = measured_seconds()
    peak_cpu = flops.matmul_peak("fp32")
    paper = paper_counts()
    rows = []
    for stage, w in work.items():
        per = {name: stage_flops(shape, w) for name, shape in shapes.items()}
        big = {**w, **paper, "passes": 1.0 if w["kind"] == "train" else w["passes"]}  # the paper trains one epoch
        f8b = stage_flops(shapes["llama-3.1-8b"], big)
        if w["kind"] == "generate":
            prefill = stage_flops(shapes["llama-3.1-8b"], {**big, "new_tokens": 0})
            hours = (args.records * prefill / (args.gpus * H100["peak_bf16"] * H100["mfu_forward"])
                     + decode_seconds(shapes["llama-3.1-8b"], big, args.records, args.gpus, LLAMA_31_8B)) / 3600
        else:
            mfu = H100["mfu_train"] if w["kind"] == "train" else H100["mfu_forward"]
            hours = args.records * f8b / (args.gpus * H100["peak_bf16"] * mfu) / 3600
        measured = seconds.get(stage) or (seconds.get("eval_inputs@splits", 0) + seconds.get("eval_inputs@benchmarks", 0)
                                          if stage == "eval_inputs" else None)
        achieved = per["tiny"] * w["examples"] / measured if measured else None
        rows.append({"stage": stage, "examples_default": int(w["examples"]), "passes_per_example": round(w["passes"], 3),
                     "tokens_per_example": round(w["tokens"], 1), "head_tokens_per_example": round(w["head_tokens"], 1),
                     "flops_per_example": {k: float(v) for k, v in per.items()},
                     "paper_flops_per_record_8b": f8b, "paper_hours_1p3m_8b": hours,
                     "default_measured_s": measured, "default_achieved_flops_per_s": achieved,
                     "default_mfu_vs_cpu_fp32_peak": achieved / peak_cpu if achieved else None})
    doc = {"gpus": args.gpus, "records": args.records, "paper_record": PAPER_RECORD, "assumptions": H100,
           "shapes": {k: vars(v) for k, v in shapes.items()}, "cpu_fp32_matmul_peak": peak_cpu, "stages": rows,
           "load_1min": os.getloadavg()[0]}
    write(doc, Path(args.out))


def write(doc: dict, out: Path) -> None:
    a = doc["assumptions"]
    lines = [f"# Scale projection: {doc['records']:,.0f} records, Llama-3.1-8B shape, {doc['gpus']} GPUs", "",
             "Written by `bench/scale_projection.py` (FLOPs as the trainer counts them: alignx.training.flops). "
             f"Assumptions: H100 SXM bf16 dense peak {a['peak_bf16'] / 1e12:.0f} TFLOP/s; MFU {a['mfu_train']:.0%} "
             f"training (ZeRO-3), {a['mfu_forward']:.0%} scoring / prefill; decoding bandwidth-bound at "
             f"{a['bandwidth_use']:.0%} of {a['bandwidth'] / 1e12:.2f} TB/s with {a['decode_batch']} sequences per GPU; "
             f"a paper record = {doc['paper_record']['prompt']}-token prompt + {doc['paper_record']['chosen']} + "
             f"{doc['paper_record']['rejected']} response tokens (packed, max_len 8192). Model parameters (matmul): "
             + ", ".join(f"{k} {v['matmul_params'] / 1e6:,.1f} M" for k, v in doc["shapes"].items()) + ".", "",
             "Per-example work is measured on the default run's data (tiny tokenizer lengths; passes = forwards or "
             "training-step shares per example). Hours assume every one of the records goes through the stage.", "",
             "| stage | default examples | passes/example | tokens/example | GFLOP/example tiny | GFLOP/example SmolLM2 "
             "| TFLOP/record 8B (paper shape) | hours, 8B, 1.3M records | default measured s | default achieved GFLOP/s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in doc["stages"]:
        f = r["flops_per_example"]
        measured = f"{r['default_measured_s']:.0f}" if r["default_measured_s"] else "-"
        achieved = f"{r['default_achieved_flops_per_s'] / 1e9:.1f}" if r["default_achieved_flops_per_s"] else "-"
        lines.append(f"| {r['stage']} | {r['examples_default']} | {r['passes_per_example']} | {r['tokens_per_example']} "
                     f"| {f['tiny'] / 1e9:.3f} | {f['smollm2-135m'] / 1e9:.2f} | {r['paper_flops_per_record_8b'] / 1e12:.1f} "
                     f"| {r['paper_hours_1p3m_8b']:.1f} | {measured} | {achieved} |")
    lines += ["", "Default measured s: the stage runs of the latest full default pipeline run in mlflow.db, with that run's "
              "own example counts (a run before `reference` scored only the rows training reads scored 26,000 examples "
              "there, so its achieved rate reads low here); achieved GFLOP/s = tiny FLOPs x examples / seconds, start-up "
              "included.", f"CPU fp32 matmul peak measured here: {doc['cpu_fp32_matmul_peak'] / 1e9:.1f} GFLOP/s "
              f"(load {doc['load_1min']:.1f} on {os.cpu_count()} CPUs).", ""]
    print("\n".join(lines))
    write_results(out, "scale_projection", doc, lines, stamp="%Y-%m-%d")


if __name__ == "__main__":
    main()
