"""DPO training throughput: this project's DeepSpeed trainer against Hugging Face TRL's DPOTrainer.

    .venv/bin/python bench/train_throughput.py                      # default model size and 8x larger
    .venv/bin/python bench/train_throughput.py --sizes default --steps 4

Same model (the pipeline's default `base.tiny` architecture, and an ~8x larger one), same weights, same
batches (TRL reads the examples in the order our trainer draws them), same objective (sigmoid DPO, beta 0.1,
summed response log-probs, reference log-probs of ANOTHER random model so the step-0 loss is not trivially
log 2). Each trainer runs in its own process. Prints tokens/s (non-pad tokens of chosen + rejected sequences
per second, the first step excluded as warm-up), the ratio, both step-0 losses, MFU against the fp32 and
bf16 matmul peaks measured here, and where a step's time goes. Needs the `bench` extra (`pip install
'.[bench]'`: trl).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = {
    # models/base with params.yaml base.tiny (vocab 4096, hidden 128, 2 layers, 4 heads, 2 kv heads, tied): ~0.9M
    "default": dict(vocab=4096, hidden=128, layers=2, heads=4, kv_heads=2, intermediate=384, tie=True),
    # ~8x the parameters: hidden 384, 4 layers (~8M)
    "8x": dict(vocab=4096, hidden=384, layers=4, heads=6, kv_heads=3, intermediate=1024, tie=True),
}
RUNS = [  # (name, worker, bf16, precompute reference)
    ("alignx fp32", "alignx", False, True),
    ("alignx bf16", "alignx", True, True),
    ("TRL default (fp32, ref model)", "trl", False, False),
    ("TRL precompute fp32", "trl", False, True),
    ("TRL precompute bf16", "trl", True, True),
]
BETA, LR = 0.1, 1e-4


def prepare(root: Path, size: str, n: int) -> dict[str, str]:
    from alignx.toy import ToySize, write_inputs

    # ~250-token sequences: prompts of 150-250 tokens, responses of 20-60 (the measurement setting).
    return write_inputs(root, ToySize(**SIZES[size]), n_train=n, prompt_len=(150, 250), response_len=(20, 60),
                        seed=0, reference_seed=1)


def worker_alignx(paths: dict, args) -> dict:
    from alignx.trainer import TrainConfig, TrainPaths, train

    cfg = TrainConfig(beta=BETA, lr=LR, warmup_ratio=0.0, global_batch=args.batch, micro_batch=args.batch,
                      max_steps=args.steps, zero_stage=0, bf16=args.bf16, checkpoint_every=10**6)
    s = train(cfg, TrainPaths(**paths))
    return {"step0_loss": s["first_step_loss"], "tokens_per_second": s["mean/tokens_per_second"],
            "step_seconds": s["mean/step_seconds"], "mfu_fp32": s["mean/mfu_fp32_peak"], "mfu_bf16": s["mean/mfu_bf16_peak"],
            "phases": {k: s[f"mean/time/{k}"] for k in ("forward", "backward", "optimizer")},
            "peaks": [s["peak_fp32_flops"], s["peak_bf16_flops"]], "matmul_params": s["matmul_params"]}


def worker_trl(paths: dict, args) -> dict:
    import numpy as np
    import pandas as pd
    import torch
    from datasets import Dataset
    from torch.utils.data import SequentialSampler
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    from alignx import flops
    from alignx.train_data import Batches

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
        beta=BETA, loss_type=["sigmoid"], max_length=None, precompute_ref_log_probs=args.precompute,
        bf16=args.bf16, use_cpu=True, report_to=[], logging_steps=1, save_strategy="no", max_grad_norm=1.0,
        optim="adamw_torch", adam_beta1=0.9, adam_beta2=0.95, weight_decay=0.0, dataloader_num_workers=0,
        disable_tqdm=True, seed=0,
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
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    begins = [t for k, t in marks if k == "begin"]
    pre = [t for k, t in marks if k == "pre_opt"]
    ends = [t for k, t in marks if k == "end"]
    step_s = [e - b for b, e in zip(begins, ends)][1:]  # the first step is warm-up
    fwd_bwd = [p - b for b, p in zip(begins, pre)][1:]
    tokens = [int(2 * len(frame["prompt_ids"][i]) + len(frame["chosen_ids"][i]) + len(frame["rejected_ids"][i]))
              for i in range(len(frame))]
    step_tokens = [sum(tokens[s * args.batch : (s + 1) * args.batch]) for s in range(1, args.steps)]
    tps = sum(step_tokens) / sum(step_s)
    n_params = flops.flops_params(model)
    peaks = [flops.matmul_peak("fp32"), flops.matmul_peak("bf16")]
    return {"step0_loss": losses[0], "tokens_per_second": tps, "step_seconds": sum(step_s) / len(step_s),
            "mfu_fp32": flops.mfu(n_params, tps, peaks[0]), "mfu_bf16": flops.mfu(n_params, tps, peaks[1]),
            "phases": {"forward+backward": sum(fwd_bwd) / len(fwd_bwd),
                       "optimizer+rest": (sum(step_s) - sum(fwd_bwd)) / len(step_s)},
            "peaks": peaks, "matmul_params": n_params}


def run_worker(kind: str, paths: dict, args, bf16: bool, precompute: bool) -> dict:
    """One trainer in a fresh process (no shared caches, allocator state or threads between trainers)."""
    cmd = [sys.executable, __file__, "--worker", kind, "--paths", json.dumps(paths), "--steps", str(args.steps),
           "--batch", str(args.batch)] + (["--bf16"] if bf16 else []) + (["--precompute"] if precompute else [])
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**env, "DS_ACCELERATOR": "cpu"})
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr or proc.stdout)[-1500:]}
    return json.loads(lines[-1][len("RESULT "):])


def report(size: str, results: dict[str, dict]) -> None:
    ok = {k: v for k, v in results.items() if "error" not in v}
    any_ok = next(iter(ok.values()), None)
    print(f"\n## {size} model: {any_ok['matmul_params'] / 1e6:.2f}M matmul params" if any_ok else f"\n## {size}")
    if any_ok:
        print(f"measured matmul peak: fp32 {any_ok['peaks'][0] / 1e9:.0f} GFLOP/s, bf16 {any_ok['peaks'][1] / 1e9:.0f} GFLOP/s")
    print(f"{'trainer':32} {'tokens/s':>10} {'s/step':>8} {'step-0 loss':>12} {'MFU fp32':>9} {'MFU bf16':>9}  time per step")
    for name, r in results.items():
        if "error" in r:
            print(f"{name:32} FAILED: {r['error'].strip().splitlines()[-1] if r['error'].strip() else 'no output'}")
            continue
        phases = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in r["phases"].items())
        print(f"{name:32} {r['tokens_per_second']:10.0f} {r['step_seconds']:8.3f} {r['step0_loss']:12.6f} "
              f"{r['mfu_fp32']:9.2%} {r['mfu_bf16']:9.2%}  {phases}")
    ours = max((r for n, r in ok.items() if n.startswith("alignx")), key=lambda r: r["tokens_per_second"], default=None)
    trl = {n: r for n, r in ok.items() if n.startswith("TRL")}
    if ours and trl:
        fastest = max(trl, key=lambda n: trl[n]["tokens_per_second"])
        print(f"speed-up of our fastest over TRL's fastest ({fastest}): "
              f"{ours['tokens_per_second'] / trl[fastest]['tokens_per_second']:.2f}x; over TRL default: "
              + (f"{ours['tokens_per_second'] / trl[RUNS[2][0]]['tokens_per_second']:.2f}x" if RUNS[2][0] in trl else "n/a"))
        fp32 = [r["step0_loss"] for n, r in ok.items() if "bf16" not in n]
        print(f"step-0 losses (fp32 runs) agree to {max(fp32) - min(fp32):.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="default,8x", help=f"comma-separated, of {list(SIZES)}")
    parser.add_argument("--steps", type=int, default=5, help="optimizer steps per trainer (the first is warm-up)")
    parser.add_argument("--batch", type=int, default=8, help="preference pairs per step (2x sequences)")
    parser.add_argument("--only", default="", help="comma-separated substrings: run only the matching trainers")
    parser.add_argument("--worker", choices=["alignx", "trl"], help=argparse.SUPPRESS)
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    parser.add_argument("--bf16", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--precompute", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import alignx  # noqa: F401  (offline settings)

    if args.worker:
        result = (worker_alignx if args.worker == "alignx" else worker_trl)(json.loads(args.paths), args)
        print("RESULT " + json.dumps(result), flush=True)
        return
    runs = [r for r in RUNS if not args.only or any(s in r[0] for s in args.only.split(","))]
    with tempfile.TemporaryDirectory(prefix="alignx-bench-") as tmp:
        for size in args.sizes.split(","):
            paths = prepare(Path(tmp) / size, size, args.batch * args.steps)
            results = {}
            for name, kind, bf16, precompute in runs:
                print(f"[bench] {size}: {name} ...", file=sys.stderr, flush=True)
                out = Path(tmp) / size / "".join(c if c.isalnum() else "_" for c in name)
                results[name] = run_worker(kind, {**paths, "export": str(out / "model"), "checkpoints": str(out / "ckpt")},
                                           args, bf16, precompute)
            report(size, results)


if __name__ == "__main__":
    main()
