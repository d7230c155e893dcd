"""Running a training job: in this process, or as N processes under the `deepspeed` launcher."""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import asdict
from pathlib import Path

from alignx.contracts import BASE_DIR, FORMAT_DIR, REFERENCE_DIR
from alignx.pipeline import launcher
from alignx.training.trainer import RENDEZVOUS_ENV, TrainConfig, TrainPaths, train


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
    return launcher.launcher_command(cfg.num_processes, cfg.hostfile, "alignx.training.trainer", ["--spec", str(spec)],
                                     "train.hostfile")


def run_training(cfg: TrainConfig, paths: TrainPaths, run_id: str | None = None) -> dict[str, float]:
    """Train with `cfg.num_processes` processes; return rank 0's summary. One process (no hostfile) trains in
    this process; more are started by the `deepspeed` launcher, which this call waits for."""
    if cfg.num_processes <= 1 and not cfg.hostfile:
        return train(cfg, paths, run_id)
    env = launcher.launcher_env(cfg.num_processes)
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
