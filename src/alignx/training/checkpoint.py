"""Resumable training state: a DeepSpeed checkpoint (weights, optimizer, LR schedule) plus the data position
and every RNG state, tagged with a fingerprint of the run's inputs so that a checkpoint of a different run
(other params, other data) is never resumed."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

FINGERPRINT = "fingerprint.json"


def fingerprint(config: dict[str, Any], files: list[Path]) -> str:
    """Hash of the training config and the input files' size and modification time."""
    h = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    for f in files:
        stat = Path(f).stat()
        h.update(f"{f}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def prepare(directory: Path, print_fn, rank: int, key: str) -> bool:
    """Make `directory` hold checkpoints of this run only; True when one can be resumed from it."""
    directory = Path(directory)
    marker = directory / FINGERPRINT
    found = json.loads(marker.read_text())["fingerprint"] if marker.exists() else None
    resumable = found == key and (directory / "latest").exists()
    if rank == 0 and found is not None and found != key:
        print_fn(f"checkpoints in {directory} belong to another run (inputs or params changed): starting fresh")
        shutil.rmtree(directory)
    if rank == 0:
        directory.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"fingerprint": key}))
    return resumable


def rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def save(engine, directory: Path, step: int) -> None:
    """Collective: every rank writes its shard; `latest` moves to this step only after all files exist, so a
    run killed mid-save resumes from the previous checkpoint."""
    engine.save_checkpoint(str(directory), tag=f"step{step}", client_state={"step": step, "rng": rng_state()})


def load(engine, directory: Path) -> int:
    """Restore the latest checkpoint into `engine` and the RNGs; return the number of completed steps."""
    path, client = engine.load_checkpoint(str(directory))
    if path is None:
        raise RuntimeError(f"{directory}: `latest` names a checkpoint that could not be loaded")
    set_rng_state(client["rng"])
    return int(client["step"])
