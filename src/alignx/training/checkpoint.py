"""Resumable training state: a DeepSpeed checkpoint (weights, optimizer, LR schedule) plus the data position
and every RNG state, tagged with a fingerprint of the run's inputs so that a checkpoint of a different run
(other params, other data) is never resumed.

DeepSpeed reads its checkpoint files with `torch.load(weights_only=False)`, i.e. it unpickles them, which runs
whatever code a crafted file holds. So only checkpoints this project wrote are loaded: each save records the
SHA-256 of every file it wrote (`<tag>.sha256.json`), and a checkpoint whose files are missing, altered or extra
is never resumed (the run starts fresh and says why)."""

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
DIGESTS = ".sha256.json"  # suffix of `<tag>.sha256.json`: the files of checkpoint <tag> and their SHA-256


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
    if resumable and (problem := verify(directory)):
        print_fn(f"checkpoint in {directory} is not one this project wrote ({problem}): starting fresh")
        resumable = False
    if rank == 0 and found is not None and not resumable:
        if found != key:
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
    """Collective: every rank writes its shard; then rank 0 records the files' digests and only then moves `latest`
    to this step, so a run killed mid-save resumes from the previous, complete and recorded checkpoint."""
    tag = f"step{step}"
    engine.save_checkpoint(str(directory), tag=tag, client_state={"step": step, "rng": rng_state()}, save_latest=False)
    if engine.global_rank == 0:  # save_checkpoint ends with a barrier: every rank's files are written
        directory = Path(directory)
        _write_atomic(directory / f"{tag}{DIGESTS}", json.dumps(_digests(directory / tag), indent=1))
        _write_atomic(directory / "latest", tag)  # what DeepSpeed's own `latest` holds: the tag


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def verify(directory: Path) -> str:
    """Why the checkpoint `latest` names must not be loaded ('' when its files are exactly those it saved)."""
    directory = Path(directory)
    tag = (directory / "latest").read_text().strip()
    record = directory / f"{tag}{DIGESTS}"
    if not record.exists():
        return f"no {record.name}"
    expected = json.loads(record.read_text())
    found = _digests(directory / tag)
    if found != expected:
        changed = sorted(set(found) ^ set(expected) | {f for f in found.keys() & expected.keys() if found[f] != expected[f]})
        return f"files missing, altered or added: {', '.join(changed[:5])}"
    return ""


def _digests(folder: Path) -> dict[str, str]:
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        out[str(path.relative_to(folder))] = h.hexdigest()
    return out


def load(engine, directory: Path) -> int:
    """Restore the latest checkpoint into `engine` and the RNGs; return the number of completed steps. Only a
    checkpoint `verify` accepts is unpickled (see the module docstring)."""
    if problem := verify(directory):
        raise RuntimeError(f"{directory}: refusing to load a checkpoint this project did not write ({problem})")
    path, client = engine.load_checkpoint(str(directory))
    if path is None:
        raise RuntimeError(f"{directory}: `latest` names a checkpoint that could not be loaded")
    set_rng_state(client["rng"])
    return int(client["step"])
