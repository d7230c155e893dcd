"""DPO training of one aligner with DeepSpeed (ZeRO 0-3), in one process on CPU or under the `deepspeed`
launcher across processes, GPUs and nodes.

    python -m alignx.training.trainer --spec spec.json              # one process (sets up its own CPU env)
    deepspeed --num_gpus 2 --module alignx.training.trainer --spec spec.json

A step: for each micro-batch, chosen and rejected go through ONE forward pass (2B sequences), the sigmoid DPO
loss uses the cached reference log-probs, DeepSpeed accumulates gradients to the global batch, then clips,
steps AdamW and the cosine schedule. Rank 0 logs every step to MLflow and shows a progress bar.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from alignx.config import LoraConfig, TrainConfig
from alignx.env import free_port
from alignx.inputs.counterfactual import KINDS
from alignx.modeling.logprobs import packs_pairs, pair_logprobs, sequence_logprobs
from alignx.modeling.tokenizer import pad_id
from alignx.training import checkpoint
from alignx.training.data import (Batches, check_reference, counterfactual_pairs, dpo_batch, load_split, model_inputs,
                                  pair_positions, plan, rows_read, run_steps, sequence_lengths)
from alignx.training.dpo import consistency_loss, dpo_loss, rewards
from alignx.training.step_metrics import MetricSink, evaluate, grad_norm, reduce_mean
from alignx.training.throughput import ModelShape, StepCounts, Throughput


@dataclass
class TrainPaths:
    """Where a run reads and writes (all but `export` and `checkpoints` are inputs)."""

    train_examples: str
    train_reference: str
    base: str
    export: str
    checkpoints: str
    val_examples: str = ""
    val_reference: str = ""


class Policy(torch.nn.Module):
    """The causal LM as DeepSpeed sees it: forward(batch) -> [2B] summed response log-probs. Wrapping keeps
    every forward inside the engine (ZeRO-3 gathers parameters in module hooks)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, response_mask=None, position_ids=None, segment=None) -> torch.Tensor:
        if segment is not None:  # packed `prompt + chosen + rejected` rows (dpo_batch(packed=True))
            batch = {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids,
                     "segment": segment}
            return torch.cat(pair_logprobs(self.model, batch))
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "response_mask": response_mask}
        return sequence_logprobs(self.model, batch)


# A file the ranks of a one-node launcher run rendezvous through (no TCP listener); set by alignx.training.launch.
RENDEZVOUS_ENV = "ALIGNX_RENDEZVOUS_FILE"


@contextmanager
def distributed() -> Iterator[tuple[int, int]]:
    """(rank, world size) of this process. Outside a launcher, a one-process CPU group (without one DeepSpeed falls
    back to MPI discovery and fails, ../shared/ENVIRONMENT.md). The group lives as long as the process (DeepSpeed
    caches its groups), so a second run in the same process (tests) reuses it; the variables are removed afterwards
    so that child processes do not inherit a rank.

    No listener leaves the machine: one process rendezvous through an in-process store (no port at all) and ranks
    on one node through a file (RENDEZVOUS_ENV, set by alignx.training.launch), with gloo's sockets on loopback;
    only a multi-node run (a hostfile) opens torch's TCP rendezvous on MASTER_PORT, which the other nodes must reach."""
    own = "RANK" not in os.environ
    if own:
        if not torch.cuda.is_available():
            os.environ.setdefault("DS_ACCELERATOR", "cpu")
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), RANK="0", WORLD_SIZE="1", LOCAL_RANK="0")
    import deepspeed

    backend = None if torch.cuda.is_available() else "gloo"
    if not torch.distributed.is_initialized():
        if backend == "gloo" and (own or os.environ.get(RENDEZVOUS_ENV)):
            os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
        if own and backend == "gloo":
            torch.distributed.init_process_group("gloo", store=torch.distributed.HashStore(), rank=0, world_size=1)
        if os.environ.get(RENDEZVOUS_ENV) and not own:
            deepspeed.init_distributed(dist_backend=backend, init_method=f"file://{os.environ[RENDEZVOUS_ENV]}",
                                       rank=int(os.environ["RANK"]), world_size=int(os.environ["WORLD_SIZE"]))
        else:
            deepspeed.init_distributed(dist_backend=backend)
    try:
        yield torch.distributed.get_rank(), torch.distributed.get_world_size()
    finally:
        if own:
            for key in ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK"):
                os.environ.pop(key, None)


def ds_config(cfg: TrainConfig, world: int) -> dict[str, Any]:
    accumulation = cfg.global_batch // (cfg.micro_batch * world)
    if accumulation < 1 or cfg.global_batch != accumulation * cfg.micro_batch * world:
        raise ValueError(f"global_batch {cfg.global_batch} is not micro_batch {cfg.micro_batch} x "
                         f"{world} processes x an integer accumulation")
    return {
        "train_batch_size": cfg.global_batch,
        "train_micro_batch_size_per_gpu": cfg.micro_batch,
        "gradient_accumulation_steps": accumulation,
        "gradient_clipping": cfg.grad_clip,
        "zero_optimization": {"stage": cfg.zero_stage},
        "bf16": {"enabled": cfg.bf16},
        # torch AdamW is the cheapest optimizer on CPU; DeepSpeed's own would JIT-compile a C++ op.
        "zero_allow_untested_optimizer": True,
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }


def with_lora(model: torch.nn.Module, cfg: LoraConfig) -> torch.nn.Module:
    """`model` with peft LoRA adapters on `cfg.target_modules`; only the adapters train (B starts at zero, so
    the step-0 policy is exactly the reference)."""
    import peft

    found = {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}
    missing = sorted(set(cfg.target_modules) - found)
    if missing:
        raise ValueError(f"params.yaml train.lora.target_modules: {missing} are not Linear layers of "
                         f"{type(model).__name__} (its Linear layers: {sorted(found)})")
    config = peft.LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                             target_modules=list(cfg.target_modules), bias="none")
    return peft.get_peft_model(model, config)


def cosine_with_warmup(total: int, warmup_ratio: float, min_ratio: float):
    """LR multiplier: linear warm-up over `warmup_ratio` of the steps, then cosine down to `min_ratio`."""
    warmup = max(1, round(total * warmup_ratio)) if warmup_ratio > 0 else 0

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def train(cfg: TrainConfig, paths: TrainPaths, run_id: str | None = None) -> dict[str, float]:
    """Train, checkpoint, resume if a checkpoint of this very run exists, export; return the summary (rank 0)."""
    # Inputs are validated before DeepSpeed starts: a bad reference file fails in seconds.
    data = load_split(Path(paths.train_examples), Path(paths.train_reference))
    val = load_split(Path(paths.val_examples), Path(paths.val_reference)) if paths.val_examples else None
    check_reference(data, rows_read(data, cfg.global_batch, cfg.seed, cfg.length_group_steps, cfg.epochs, cfg.max_steps,
                                    cfg.consistency.on), paths.train_reference)
    threads = torch.get_num_threads()
    try:
        with distributed() as (rank, world):
            return _train(cfg, paths, run_id, data, val, rank, world)
    finally:
        torch.set_num_threads(threads)  # `threads` applies to this run, not to the rest of the process


@dataclass
class Pairs:
    """What the consistency term needs of the train rows: the row each row's margin is tied to (its original, or a
    pole's mirrored counterfactual; -1: none) and its weight (its counterfactual kind's, train.consistency; 0 for
    an original)."""

    original: Any  # np.ndarray [N] int: the partner row
    weight: Any  # np.ndarray [N] float
    kind: Any  # np.ndarray [N] int: 0 original, 1 + alignx.inputs.counterfactual.KINDS index
    targeted: Any  # np.ndarray [N] bool: the row carries the DPO loss (train.consistency.neutral_dpo)

    @classmethod
    def of(cls, data, cfg: TrainConfig) -> Pairs:
        original, kind = counterfactual_pairs(data["example_id"])
        weights = [0.0] + [cfg.consistency.weight(name) for name in KINDS]
        targeted = [True] + [cfg.consistency.neutral_dpo or not name.startswith("neutral") for name in KINDS]
        return cls(original, np.asarray(weights)[kind] * (original >= 0), kind, np.asarray(targeted)[kind])


@dataclass
class Run:
    """A run set up and ready to step: the DeepSpeed engine around the policy, the batch plan, where it resumes."""

    engine: Any
    tokenizer: Any
    pad: int  # the id batches are padded with (masked out everywhere)
    packed: bool  # one `prompt + chosen + rejected` row per pair (Llama family)
    lengths: Any  # sequence length of every train example (the batch plan's length grouping)
    batches: Batches
    total: int  # optimizer steps of the run
    start: int  # the step it resumes at (0: fresh)
    ckpt_dir: Path  # this run's resumable checkpoints
    shape: ModelShape  # what the FLOPs scale with, read before adapters wrap the model
    first_loss: float  # the loss at step 0 (carried by the checkpoint when resuming; nan until measured)
    pairs: Pairs | None = None  # each row's original and kind (train.consistency on and counterfactual rows; else None)


def setup(cfg: TrainConfig, paths: TrainPaths, data, rank: int, world: int, say) -> Run:
    """Model (seeded), optional LoRA adapters, batch plan, AdamW with the cosine schedule inside a DeepSpeed
    engine, and the checkpoint of this very run loaded when there is one."""
    import deepspeed
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(paths.base)
    pad = pad_id(tokenizer)
    torch.manual_seed(cfg.seed)
    model = AutoModelForCausalLM.from_pretrained(paths.base, dtype=torch.float32)
    shape = ModelShape.of(model)  # the head runs only at response-predicting positions (sequence_logprobs)
    if cfg.lora.rank:
        model = with_lora(model, cfg.lora)
    # Llama-family models run each prompt once for both responses (the same log-probs on about half the
    # positions with ICA's long personas); other architectures score chosen and rejected as two sequences.
    packed = packs_pairs(model) and cfg.packed

    lengths = sequence_lengths(data)
    batches = plan(data, cfg.global_batch, cfg.seed, cfg.length_group_steps, cfg.consistency.on)
    if batches.steps_per_epoch == 0:
        raise ValueError(f"{paths.train_examples}: {len(data)} examples is fewer than one global batch ({cfg.global_batch})")
    total = run_steps(batches, cfg.epochs, cfg.max_steps)
    # fused=True: one kernel over all parameters, several times faster than the default foreach AdamW on a CPU.
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr, betas=tuple(cfg.adam_betas),
                                  weight_decay=cfg.weight_decay, fused=True)
    schedule = cosine_with_warmup(total, cfg.warmup_ratio, cfg.min_lr_ratio)
    engine, _, _, _ = deepspeed.initialize(
        model=Policy(model), optimizer=optimizer, config=ds_config(cfg, world),
        lr_scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, schedule),
    )
    engine.train()

    ckpt_dir = Path(paths.checkpoints)
    key = checkpoint.fingerprint(asdict(cfg) | {"world": world}, [Path(paths.train_examples), Path(paths.train_reference), Path(paths.base) / "config.json"])
    resumable = checkpoint.prepare(ckpt_dir, say, rank, key)
    if world > 1:
        torch.distributed.barrier()  # rank 0 may have just cleared a stale checkpoint folder
    start, first_loss = checkpoint.load(engine, ckpt_dir) if resumable else (0, float("nan"))
    if start:
        say(f"resumed from {ckpt_dir} at step {start}/{total}")
    # Without counterfactual rows (ICA) the plan is the plain one and so is the loss: no term, no consistency metrics.
    pairs = Pairs.of(data, cfg) if batches.groups is not None else None
    return Run(engine, tokenizer, pad, packed, lengths, batches, total, start, ckpt_dir, shape, first_loss, pairs)


def train_step(
    engine, data, micros: list, cfg: TrainConfig, pad: int, packed: bool, counts: StepCounts, needs_norm: bool,
    pairs: Pairs | None = None, tie: float = 1.0,
) -> tuple[dict[str, float], float | None]:
    """One optimizer step over this rank's micro-batches: forward (chosen and rejected in one pass), the DPO loss
    on the cached reference log-probs (plus, with `pairs`, the consistency term of each counterfactual with its
    original in the micro-batch, its weights times `tie`: train.consistency.ramp), backward; DeepSpeed accumulates
    and, at the boundary, clips, steps AdamW and the schedule. Returns the micro-batch means of loss and reward statistics (with `pairs`, the term and the
    mean |gap| per kind over the step's pairs), and the pre-clipping gradient norm when `needs_norm` (DeepSpeed
    records none at ZeRO 0 in fp32)."""
    sums: dict[str, float] = {}
    gaps = np.zeros((2, len(KINDS)))  # per kind: sum of |gap|, pairs
    norm = None
    for idx in micros:
        batch = dpo_batch(data, idx, pad, packed)
        counts.add_batch(batch)
        t_forward = time.perf_counter()
        logps = engine(**model_inputs(batch))
        targeted = None if pairs is None else torch.as_tensor(pairs.targeted[idx])
        loss, stats = dpo_loss(logps[: len(idx)], logps[len(idx) :], batch["ref_chosen"], batch["ref_rejected"],
                               cfg.beta, cfg.nll_weight, batch["chosen_tokens"], targeted)
        if pairs is not None:
            chosen, rejected = rewards(logps[: len(idx)], logps[len(idx) :], batch["ref_chosen"], batch["ref_rejected"],
                                       cfg.beta)
            partner = pair_positions(idx, pairs.original)
            term, gap = consistency_loss(chosen - rejected, torch.as_tensor(partner),
                                         torch.as_tensor(tie * pairs.weight[idx]), cfg.consistency.anchor)
            loss = loss + term
            stats["consistency/loss"] = term.detach()
            kind = pairs.kind[idx] * (partner >= 0)
            for k in range(len(KINDS)):
                gaps[:, k] += (float(gap[torch.as_tensor(kind == k + 1)].sum()), int((kind == k + 1).sum()))
        t_backward = time.perf_counter()
        engine.backward(loss)
        t_optimizer = time.perf_counter()
        if engine.is_gradient_accumulation_boundary() and needs_norm:
            norm = grad_norm(engine.module)
        engine.step()  # applies AdamW, clipping and the schedule only at the accumulation boundary
        counts.add_times(t_backward - t_forward, t_optimizer - t_backward, time.perf_counter() - t_optimizer)
        for k, v in {"loss": loss.item(), **{k: v.item() for k, v in stats.items()}}.items():
            sums[k] = sums.get(k, 0.0) + v / len(micros)
    if pairs is not None:  # nan for a kind without pairs this step (MetricSink logs finite values only)
        sums["consistency/tie"] = tie
        sums |= {f"consistency/{name}_gap": gaps[0, k] / gaps[1, k] if gaps[1, k] else float("nan")
                 for k, name in enumerate(KINDS)}
    return sums, norm


def val_steps(total: int, points: int) -> set[int]:
    """The steps (1-based, before `total`) after which val is measured mid-run: `points - 1` evenly spaced ones."""
    return {round(total * k / points) for k in range(1, points)} - {0, total}


def _train(cfg: TrainConfig, paths: TrainPaths, run_id: str | None, data, val, rank: int, world: int) -> dict[str, float]:
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    say = (lambda msg: print(f"[train] {msg}", flush=True)) if rank == 0 else (lambda msg: None)
    run = setup(cfg, paths, data, rank, world, say)
    engine, total, start = run.engine, run.total, run.start
    meter = Throughput(run.shape, cfg.bf16, weight_grads=not cfg.lora.rank, world=world)
    sink = MetricSink(run_id if rank == 0 else None)
    say(f"{len(data)} examples, {total} steps of {cfg.global_batch} ({world} process(es), ZeRO {cfg.zero_stage}, "
        f"bf16 {cfg.bf16}), {run.shape.matmul_params / 1e6:.2f}M matmul params, peak fp32 "
        f"{meter.peaks['fp32'] / 1e9:.0f} / bf16 {meter.peaks['bf16'] / 1e9:.0f} GFLOP/s")
    summary: dict[str, float] = {}
    first_loss = run.first_loss
    # DeepSpeed records the global gradient norm except at ZeRO 0 in fp32; compute it only there.
    needs_norm, manual_norm = cfg.zero_stage == 0 and not cfg.bf16, 0.0
    mid_val = val_steps(total, cfg.val_points)
    bar = tqdm(range(start, total), initial=start, total=total, desc="train", unit="step", disable=rank != 0)
    for step in bar:
        t0 = time.perf_counter()
        counts = StepCounts()
        micros = run.batches.micro_batches(step, run.lengths, rank, world, cfg.micro_batch)
        sums, norm = train_step(engine, data, micros, cfg, run.pad, run.packed, counts, needs_norm, run.pairs,
                                cfg.consistency.scale(step, total))
        manual_norm = manual_norm if norm is None else norm
        elapsed = time.perf_counter() - t0
        metrics = reduce_mean(sums, world)
        rates = meter.step(counts, elapsed, timed=step != start)
        metrics |= {"lr": engine.get_lr()[0], "grad_norm": float(engine.get_global_grad_norm() or manual_norm), **rates}
        sink.log(metrics, step)
        bar.set_postfix(loss=f"{metrics['loss']:.4f}", acc=f"{metrics['rewards/accuracy']:.2f}", mfu=f"{metrics['mfu']:.1%}")
        summary = metrics
        if step == 0:
            first_loss = metrics["loss"]
        if val is not None and step + 1 in mid_val:  # the val curve (the end's point is measured by _finish)
            sink.log(evaluate(engine, val, cfg.beta, cfg.micro_batch, run.pad, rank, world, run.packed), step + 1)
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == total:
            checkpoint.save(engine, run.ckpt_dir, step + 1, first_loss)
    bar.close()
    return _finish(cfg, paths, run, sink, meter, summary, first_loss, val, rank, world)


def _finish(cfg: TrainConfig, paths: TrainPaths, run: Run, sink: MetricSink, meter: Throughput,
            summary: dict[str, float], first_loss: float, val, rank: int, world: int) -> dict[str, float]:
    """Held-out loss and accuracy, the exported model, and the run's summary (rank 0 writes it beside the model)."""
    if val is not None:
        summary |= evaluate(run.engine, val, cfg.beta, cfg.micro_batch, run.pad, rank, world, run.packed)
        sink.log({k: v for k, v in summary.items() if k.startswith("val/")}, run.total)
    sink.flush()
    export(run.engine, run.tokenizer, Path(paths.export), cfg.zero_stage, rank)
    summary["steps"] = float(run.total)
    summary["first_step_loss"] = first_loss  # at step 0: the loss before any update (a resumed run keeps its own)
    summary |= meter.means(run.total - run.start - 1)
    summary["resumed_from_step"] = float(run.start)
    if rank == 0:
        (Path(paths.export) / "train_summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def export(engine, tokenizer, out: Path, zero_stage: int, rank: int) -> None:
    """The trained weights as a plain transformers folder (fp32 safetensors + tokenizer), no DeepSpeed needed
    to load it; LoRA adapters are merged into it and also saved alone to `out/adapter/`, which evaluation scores
    (alignx.modeling.model.load_policy). ZeRO-3 shards are gathered first (a collective: every rank calls
    this)."""
    import deepspeed

    model = engine.module.model
    params = list(model.parameters())
    with deepspeed.zero.GatheredParameters(params, enabled=zero_stage == 3):
        if rank == 0:
            if hasattr(model, "merge_and_unload"):  # a peft model: training is over, merge in place
                model.save_pretrained(out / "adapter")
                model = model.merge_and_unload()
            state = {k: v.detach().to("cpu", torch.float32).clone() for k, v in model.state_dict().items()}
            model.config.dtype = torch.float32
            model.save_pretrained(out, state_dict=state, safe_serialization=True)
            tokenizer.save_pretrained(out)
    if torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1:
        torch.distributed.barrier()


def main(argv: list[str] | None = None) -> None:
    """Entry point for one process of a (possibly launched) run: `--spec` is a JSON file holding
    {"config": {...train params...}, "paths": {...}, "run_id": "..."}."""
    parser = argparse.ArgumentParser(description="DPO training of one aligner (one process of the run)")
    parser.add_argument("--spec", required=True, help="JSON file with config, paths and MLflow run id")
    parser.add_argument("--local_rank", type=int, default=None, help="set by the deepspeed launcher")
    args = parser.parse_args(argv)
    spec = json.loads(Path(args.spec).read_text())
    train(TrainConfig.from_params(spec["config"]), TrainPaths(**spec["paths"]), spec.get("run_id"))


if __name__ == "__main__":
    main()
