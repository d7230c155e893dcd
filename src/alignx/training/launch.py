"""Running a training job: in this process, or as N processes under the `deepspeed` launcher."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import torch

from alignx.contracts import BASE_DIR, FORMAT_DIR, REFERENCE_DIR
from alignx.env import free_port
from alignx.threads import available_cores
from alignx.training.trainer import RENDEZVOUS_ENV, TrainConfig, TrainPaths, train

DIST_VARS = ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK")


def train_paths(aligner: str, export_dir: Path) -> TrainPaths:
    """The aligner's inputs (docs/architecture.md contracts); the held-out split is used when both of its files
    exist."""
    fmt, ref = FORMAT_DIR / aligner, REFERENCE_DIR / aligner
    has_val = (fmt / "val.parquet").exists() and (ref / "val.parquet").exists()
    return TrainPaths(
        train_examples=str(fmt / "train.parquet"), train_reference=str(ref / "train.parquet"), base=str(BASE_DIR),
        export=str(export_dir), checkpoints=str(Path("checkpoints/train") / aligner),
        val_examples=str(fmt / "val.parquet") if has_val else "", val_reference=str(ref / "val.parquet") if has_val else "",
    )


def launcher_command(cfg: TrainConfig, spec: Path) -> list[str]:
    """`deepspeed [--hostfile H] --num_gpus N --master_port P --module alignx.training.trainer --spec S`."""
    deepspeed = Path(sys.executable).with_name("deepspeed")  # the launcher installed beside this interpreter
    cmd = [str(deepspeed) if deepspeed.exists() else "deepspeed"]
    if cfg.hostfile:
        if not Path(cfg.hostfile).exists():
            raise FileNotFoundError(f"params.yaml train.hostfile: {cfg.hostfile} not found")
        cmd += ["--hostfile", cfg.hostfile]
    return cmd + ["--num_gpus", str(cfg.num_processes), "--master_port", str(free_port()),
                  "--module", "alignx.training.trainer", "--spec", str(spec)]


def run_training(cfg: TrainConfig, paths: TrainPaths, run_id: str | None = None) -> dict[str, float]:
    """Train with `cfg.num_processes` processes; return rank 0's summary. One process (no hostfile) trains in
    this process; more are started by the `deepspeed` launcher, which this call waits for."""
    if cfg.num_processes <= 1 and not cfg.hostfile:
        return train(cfg, paths, run_id)
    env = {k: v for k, v in os.environ.items() if k not in DIST_VARS}
    if not torch.cuda.is_available():
        env["DS_ACCELERATOR"] = "cpu"
        # N ranks share the cores: more threads than cores per rank makes every matmul slower.
        env.setdefault("OMP_NUM_THREADS", str(max(1, available_cores() // cfg.num_processes)))
    with tempfile.TemporaryDirectory(prefix="alignx-train-") as tmp:
        spec = Path(tmp) / "spec.json"
        spec.write_text(json.dumps({"config": asdict(cfg), "paths": asdict(paths), "run_id": run_id}))
        if not cfg.hostfile:  # one node: the ranks meet through a file, no rendezvous port is opened
            env[RENDEZVOUS_ENV] = str(Path(tmp) / "rendezvous")
        cmd = launcher_command(cfg, spec)
        print(f"[train] launching: {' '.join(cmd)}", flush=True)
        code = subprocess.run(cmd, env=env).returncode
    if code != 0:
        raise RuntimeError(f"deepspeed launcher exited with code {code} ({' '.join(cmd)}); see the ranks' output above")
    return json.loads((Path(paths.export) / "train_summary.json").read_text())
