"""DPO training throughput: this project's DeepSpeed trainer against Hugging Face TRL's DPOTrainer.

    .venv/bin/python bench/train_throughput.py                      # default, 8x and SmolLM2-135M sizes
    .venv/bin/python bench/train_throughput.py --sizes default --steps 4 --out /tmp/bench

Same model (the pipeline's default `base.tiny` architecture, an ~8x larger one and the SmolLM2-135M
architecture, random weights), same weights, same batches (TRL reads the examples in the order our trainer
draws them), same objective (sigmoid DPO, beta 0.1, summed response log-probs, reference log-probs of ANOTHER
random model so the step-0 loss is not trivially log 2), same precision compared with same precision. Each
trainer runs in its own process.

TRL runs with its fastest CPU settings in 1.16: fused AdamW (`adamw_torch_fused`, as our trainer), reference
log-probs precomputed before training (ours are cached by the `reference` stage), gradient checkpointing OFF
(DPOConfig turns it on by default: a second forward per step) and its fused, chunked LM head (always on; on
CPU it scores every position, there is no logits-to-keep option, and `padding_free` is disabled in 1.16).
"bf16" is each trainer's own bf16 mode: DeepSpeed bf16 (bf16 weights and activations, fp32 master weights)
for ours, autocast to bf16 over fp32 weights for TRL.

Prints and saves (JSON + markdown under --out, default bench/results/) tokens/s (non-pad tokens of chosen +
rejected sequences per second, the first step excluded as warm-up), the ratio per precision, both step-0
losses, MFU against the fp32 and bf16 matmul peaks measured here, and where a step's time goes. MFU counts
the FLOPs our trainer needs (`alignx.training.flops`: body at every real token, LM head only at response-predicting
positions, attention scores at the (query, key) pairs the mask lets through) for BOTH trainers, so the MFU ratio equals the throughput ratio. Needs the `bench` extra
(`pip install '.[bench]'`: trl).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The toy inputs come from tests/toy.py: run as a script, the repository root is not on sys.path by itself.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZES = {
    # models/base with params.yaml base.tiny (vocab 4096, hidden 128, 2 layers, 4 heads, 2 kv heads, tied): ~0.9M
    "default": dict(vocab=4096, hidden=128, layers=2, heads=4, kv_heads=2, intermediate=384, tie=True),
    # ~8x the parameters: hidden 384, 4 layers (~8M)
    "8x": dict(vocab=4096, hidden=384, layers=4, heads=6, kv_heads=3, intermediate=1024, tie=True),
    # the SmolLM2-135M architecture (hidden 576, 30 layers, 9 heads, 3 kv heads, vocab 49152, tied), random init
    "smollm2-135m": dict(vocab=49152, hidden=576, layers=30, heads=9, kv_heads=3, intermediate=1536, tie=True),
}
# Steps and batch per size when --steps / --batch are not given: the 135M model takes seconds per step on 2 cores.
RUN_SHAPE = {"default": (5, 8), "8x": (5, 8), "smollm2-135m": (3, 2)}
RUNS = [  # (name, worker, bf16)
    ("alignx fp32", "alignx", False),
    ("TRL fp32", "trl", False),
    ("alignx bf16", "alignx", True),
    ("TRL bf16", "trl", True),
]
TARGET_RATIO, TARGET_MFU_8X = 2.0, 0.5  # issue 11: >= 2x TRL at equal precision; >= 50% fp32 MFU at the 8x size
BETA, LR = 0.1, 1e-4


def prepare(root: Path, size: str, n: int) -> dict[str, str]:
    """Toy base model, reference model, examples and their reference log-probs for `size` under `root`."""
    from tests.toy import ToySize, write_inputs

    # ~250-token sequences: prompts of 150-250 tokens, responses of 20-60 (the measurement setting).
    return write_inputs(root, ToySize(**SIZES[size]), n_train=n, prompt_len=(150, 250), response_len=(20, 60),
                        seed=0, reference_seed=1)


def worker_alignx(paths: dict, args) -> dict:
    """Our DeepSpeed trainer (ZeRO 0, one process) on the prepared inputs; its own summary's figures."""
    import torch

    from alignx.training.trainer import TrainConfig, TrainPaths, train

    cfg = TrainConfig(beta=BETA, lr=LR, warmup_ratio=0.0, global_batch=args.batch, micro_batch=args.batch,
                      max_steps=args.steps, zero_stage=0, bf16=args.bf16, checkpoint_every=10**6)
    s = train(cfg, TrainPaths(**paths))
    return {"step0_loss": s["first_step_loss"], "tokens_per_second": s["mean/tokens_per_second"],
            "step_seconds": s["mean/step_seconds"], "flops_per_second": s["mean/flops_per_second"],
            "mfu_fp32": s["mean/mfu_fp32_peak"], "mfu_bf16": s["mean/mfu_bf16_peak"],
            "phases": {k: s[f"mean/time/{k}"] for k in ("forward", "backward", "optimizer")},
            "peaks": [s["peak_fp32_flops"], s["peak_bf16_flops"]], "matmul_params": s["matmul_params"],
            "head_params": s["head_params"], "threads": torch.get_num_threads()}


def worker_trl(paths: dict, args) -> dict:
    """TRL's DPOTrainer with its fastest CPU settings (module docstring) on the same inputs and batches."""
    import numpy as np
    import pandas as pd
    import torch
    from datasets import Dataset
    from torch.utils.data import SequentialSampler
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    from alignx.training import flops
    from alignx.modeling.logprobs import collate
    from alignx.training.data import Batches

    frame = pd.read_parquet(paths["train_examples"])
    # Our trainer's batch order: step s holds Batches.step_indices(s); TRL reads the rows sequentially.
    order = np.concatenate([Batches(len(frame), args.batch, 0).step_indices(s) for s in range(args.steps)])
    frame = frame.iloc[order].reset_index(drop=True)
    tokenizer = AutoTokenizer.from_pretrained(paths["base"])
    words = lambda ids: " ".join(tokenizer.convert_ids_to_tokens([int(i) for i in ids]))  # noqa: E731
    # Word-level tokenizer: the text re-tokenizes to exactly our ids (checked below); responses end with EOS.
    data = Dataset.from_dict({"prompt": [words(p) for p in frame["prompt_ids"]],
                              "chosen": [" " + words(c) for c in frame["chosen_ids"]],
                              "rejected": [" " + words(r) for r in frame["rejected_ids"]]})
    model = AutoModelForCausalLM.from_pretrained(paths["base"], dtype=torch.float32)
    ref = AutoModelForCausalLM.from_pretrained(Path(paths["base"]).parent / "reference_model", dtype=torch.float32)
    config = DPOConfig(
        output_dir=str(Path(paths["export"]).parent / "trl"), per_device_train_batch_size=args.batch,
        gradient_accumulation_steps=1, learning_rate=LR, lr_scheduler_type="constant", max_steps=args.steps,
        beta=BETA, loss_type=["sigmoid"], max_length=None, bf16=args.bf16, use_cpu=True, report_to=[],
        logging_steps=1, save_strategy="no", max_grad_norm=1.0, adam_beta1=0.9, adam_beta2=0.95, weight_decay=0.0,
        dataloader_num_workers=0, disable_tqdm=True, seed=0,
        # Its fastest CPU settings: fused AdamW as ours (torch >= 2.8 runs it on CPU), the reference log-probs
        # computed once before training (not timed, like our cached `reference` stage), and no gradient
        # checkpointing (DPOConfig's default True recomputes the forward in the backward).
        optim="adamw_torch_fused", precompute_ref_log_probs=True, gradient_checkpointing=False,
    )
    marks: list[tuple[str, float]] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, *a, **k):
            marks.append(("begin", time.perf_counter()))

        def on_pre_optimizer_step(self, *a, **k):
            marks.append(("pre_opt", time.perf_counter()))

        def on_step_end(self, *a, **k):
            marks.append(("end", time.perf_counter()))

    trainer = DPOTrainer(model=model, ref_model=ref, args=config, train_dataset=data, processing_class=tokenizer,
                         callbacks=[Timer()])
    first = trainer.train_dataset[0]
    assert list(first["prompt_ids"]) == list(frame["prompt_ids"][0]), "TRL tokenized the prompt differently"
    assert list(first["chosen_ids"]) == list(frame["chosen_ids"][0]), "TRL tokenized the response differently"
    trainer._get_train_sampler = lambda *a, **k: SequentialSampler(trainer.train_dataset)
    trainer.train()
    optimizer = trainer.optimizer.optimizer if hasattr(trainer.optimizer, "optimizer") else trainer.optimizer
    assert optimizer.defaults.get("fused"), "TRL did not get the fused AdamW"
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    begins = [t for k, t in marks if k == "begin"]
    pre = [t for k, t in marks if k == "pre_opt"]
    ends = [t for k, t in marks if k == "end"]
    step_s = [e - b for b, e in zip(begins, ends)][1:]  # the first step is warm-up
    fwd_bwd = [p - b for b, p in zip(begins, pre)][1:]
    # The FLOPs the task needs, counted as for our trainer: the same batches through `collate` (chosen, rejected).
    step_flops, step_tokens = [], []
    n_params, n_head = flops.flops_params(model), flops.head_params(model)
    attn_width, n_layers = flops.attention_shape(model)
    for s in range(1, args.steps):
        rows = frame.iloc[s * args.batch : (s + 1) * args.batch]
        batch = collate(list(rows["prompt_ids"]) * 2, list(rows["chosen_ids"]) + list(rows["rejected_ids"]), 0)
        tokens, head_tokens = flops.counted_tokens(batch)
        step_tokens.append(tokens)
        step_flops.append(flops.training_flops(n_params, tokens, n_head, head_tokens)
                          + flops.attention_flops(flops.attended_pairs(batch), attn_width, n_layers))
    seconds = sum(step_s)
    peaks = [flops.matmul_peak("fp32"), flops.matmul_peak("bf16")]
    achieved = sum(step_flops) / seconds
    return {"step0_loss": losses[0], "tokens_per_second": sum(step_tokens) / seconds,
            "step_seconds": seconds / len(step_s), "flops_per_second": achieved,
            "mfu_fp32": flops.mfu(achieved, peaks[0]), "mfu_bf16": flops.mfu(achieved, peaks[1]),
            "phases": {"forward+backward": sum(fwd_bwd) / len(fwd_bwd),
                       "optimizer+rest": (seconds - sum(fwd_bwd)) / len(step_s)},
            "peaks": peaks, "matmul_params": n_params, "head_params": n_head, "threads": torch.get_num_threads()}


def run_worker(kind: str, paths: dict, steps: int, batch: int, bf16: bool) -> dict:
    """One trainer in a fresh process (no shared caches, allocator state or threads between trainers)."""
    cmd = [sys.executable, __file__, "--worker", kind, "--paths", json.dumps(paths), "--steps", str(steps),
           "--batch", str(batch)] + (["--bf16"] if bf16 else [])
    load = os.getloadavg()[0]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**env, "DS_ACCELERATOR": "cpu"})
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr or proc.stdout)[-1500:]}
    return json.loads(lines[-1][len("RESULT "):]) | {"process_seconds": time.perf_counter() - start, "loadavg_1min_before": load}


def machine() -> dict:
    """What the figures depend on: cores, CPU model, torch and its threads, and how busy the machine was."""
    import torch

    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    return {"host": platform.node(), "nproc": os.cpu_count(), "cpu_model": cpu, "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "loadavg_at_start": list(os.getloadavg())}


def measure_peaks() -> dict[str, float]:
    """Matmul peaks (FLOP/s) per dtype, measured in this process over 2 s each (the trainers' own 0.5 s
    measurements vary by 2x on this shared machine)."""
    from alignx.training import flops

    return {d: flops.matmul_peak(d, seconds=2.0) for d in flops.DTYPES}


def apply_peaks(record: dict) -> None:
    """MFU of every run against the best peak measured during the whole bench (ours, the workers', per dtype):
    a peak measured while the other worker on this machine was busy would inflate MFU."""
    seen = list(record["peak_measurements"])
    for size in record["sizes"]:
        seen += [dict(zip(("fp32", "bf16"), r["peaks"])) for r in size["runs"].values() if "peaks" in r]
    best = {d: max(m[d] for m in seen) for d in ("fp32", "bf16")}
    record["peak_flops"] = best
    for size in record["sizes"]:
        for r in size["runs"].values():
            if "flops_per_second" in r:
                r["mfu_fp32"], r["mfu_bf16"] = r["flops_per_second"] / best["fp32"], r["flops_per_second"] / best["bf16"]
                r["own_peaks"], r["peaks"] = r["peaks"], [best["fp32"], best["bf16"]]
        if "8x" == size["size"] and "mfu_fp32" in size["runs"].get("alignx fp32", {}):
            mfu = size["runs"]["alignx fp32"]["mfu_fp32"]
            size["targets"][f">= {TARGET_MFU_8X:.0%} fp32 MFU"] = {"value": mfu, "met": mfu >= TARGET_MFU_8X}


def summarise(size: str, steps: int, batch: int, results: dict[str, dict]) -> dict:
    """Ratios per precision (ours over TRL's), step-0 loss agreement, and the issue's targets for one size."""
    out: dict = {"size": size, "architecture": SIZES[size], "steps": steps, "batch_pairs": batch, "runs": results,
                 "ratio": {}, "step0_loss_gap": {}, "targets": {}}
    for precision in ("fp32", "bf16"):
        ours, trl = results.get(f"alignx {precision}", {}), results.get(f"TRL {precision}", {})
        if "tokens_per_second" in ours and "tokens_per_second" in trl:
            ratio = ours["tokens_per_second"] / trl["tokens_per_second"]
            out["ratio"][precision] = ratio
            out["step0_loss_gap"][precision] = abs(ours["step0_loss"] - trl["step0_loss"])
            out["targets"][f">= {TARGET_RATIO:g}x TRL {precision}"] = {"value": ratio, "met": ratio >= TARGET_RATIO}
    return out


def report(summary: dict) -> list[str]:
    """Markdown lines for one size (printed and saved)."""
    results = summary["runs"]
    ok = [r for r in results.values() if "error" not in r]
    lines = [f"\n## {summary['size']}: {ok[0]['matmul_params'] / 1e6:.2f}M matmul params "
             f"({ok[0]['head_params'] / 1e6:.2f}M LM head), {summary['steps']} steps x {summary['batch_pairs']} pairs"
             if ok else f"\n## {summary['size']}"]
    lines.append("")
    lines += ["| trainer | tokens/s | s/step | step-0 loss | MFU fp32 peak | MFU bf16 peak | time per step |",
              "|---|---:|---:|---:|---:|---:|---|"]
    for name, r in results.items():
        if "error" in r:
            lines.append(f"| {name} | FAILED: {r['error'].strip().splitlines()[-1] if r['error'].strip() else 'no output'} |")
            continue
        phases = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in r["phases"].items())
        lines.append(f"| {name} | {r['tokens_per_second']:.0f} | {r['step_seconds']:.3f} | {r['step0_loss']:.6f} | "
                     f"{r['mfu_fp32']:.1%} | {r['mfu_bf16']:.1%} | {phases} |")
    for precision, ratio in summary["ratio"].items():
        lines.append(f"\n{precision}: ours / TRL = **{ratio:.2f}x** (step-0 losses differ by "
                     f"{summary['step0_loss_gap'][precision]:.1e})")
    for name, t in summary["targets"].items():
        value = f"{t['value']:.2f}x" if "TRL" in name else f"{t['value']:.1%}"
        lines.append(f"- target {name}: {value}, {'met' if t['met'] else 'MISSED'}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(SIZES), help=f"comma-separated, of {list(SIZES)}")
    parser.add_argument("--steps", type=int, default=0, help="optimizer steps per trainer, the first is warm-up "
                        f"(default per size: {RUN_SHAPE})")
    parser.add_argument("--batch", type=int, default=0, help="preference pairs per step, 2x sequences (default per size)")
    parser.add_argument("--only", default="", help="comma-separated substrings: run only the matching trainers")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"), help="folder for the JSON and markdown")
    parser.add_argument("--worker", choices=["alignx", "trl"], help=argparse.SUPPRESS)
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    parser.add_argument("--bf16", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import alignx  # noqa: F401  (offline settings)

    if args.worker:
        result = (worker_alignx if args.worker == "alignx" else worker_trl)(json.loads(args.paths), args)
        print("RESULT " + json.dumps(result), flush=True)
        return
    import trl

    started = datetime.datetime.now()
    record = {"date": started.isoformat(timespec="seconds"), "machine": machine(), "trl": trl.__version__,
              "command": " ".join(sys.argv), "sizes": []}
    runs = [r for r in RUNS if not args.only or any(s in r[0] for s in args.only.split(","))]
    record["peak_measurements"] = [measure_peaks()]
    lines = [f"# DPO training throughput, {record['date']}",
             f"\n{record['machine']['cpu_model']}, {record['machine']['nproc']} cores, torch {record['machine']['torch']} "
             f"({record['machine']['torch_threads']} threads), TRL {record['trl']}, load average at start "
             f"{record['machine']['loadavg_at_start'][0]:.2f}"]
    with tempfile.TemporaryDirectory(prefix="alignx-bench-") as tmp:
        for size in args.sizes.split(","):
            steps, batch = args.steps or RUN_SHAPE[size][0], args.batch or RUN_SHAPE[size][1]
            paths = prepare(Path(tmp) / size, size, batch * steps)
            results = {}
            for name, kind, bf16 in runs:
                print(f"[bench] {size}: {name} ...", file=sys.stderr, flush=True)
                out = Path(tmp) / size / "".join(c if c.isalnum() else "_" for c in name)
                results[name] = run_worker(kind, {**paths, "export": str(out / "model"), "checkpoints": str(out / "ckpt")},
                                           steps, batch, bf16)
            record["sizes"].append(summarise(size, steps, batch, results))
            print(f"[bench] {size}: " + json.dumps({n: r.get("tokens_per_second", "FAILED") for n, r in results.items()}),
                  file=sys.stderr, flush=True)
    record["peak_measurements"].append(measure_peaks())
    apply_peaks(record)
    lines.append(f"\nMFU against the best matmul peak measured during the bench: fp32 "
                 f"{record['peak_flops']['fp32'] / 1e9:.0f}, bf16 {record['peak_flops']['bf16'] / 1e9:.0f} GFLOP/s "
                 f"(all measurements in the JSON).")
    for summary in record["sizes"]:
        lines += report(summary)
    print("\n".join(lines), flush=True)
    record["seconds"] = (datetime.datetime.now() - started).total_seconds()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    cores = f"{record['machine']['nproc']}cpu"
    # The time of day too: two runs of one day (e.g. before and after a trainer change) keep both results.
    stem = out_dir / f"train_throughput-{started:%Y-%m-%dT%H%M}-{platform.node() or 'host'}-{cores}"
    stem.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"\n[bench] wrote {stem}.json and {stem}.md", file=sys.stderr)


if __name__ == "__main__":
    main()
