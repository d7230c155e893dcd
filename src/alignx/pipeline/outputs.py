"""Outputs that appear whole or not at all: write beside the target, validate, then rename into place."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def staging_path(final: Path) -> Path:
    """A fresh temporary path beside `final` (same filesystem, so the final rename is atomic)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    discard(tmp)
    return tmp


def promote(tmp: Path, final: Path) -> None:
    """Move a validated `tmp` (file or folder) to `final`, replacing what was there."""
    if tmp.is_dir():
        # A folder cannot replace a folder atomically; move the old one aside first so that a crash
        # between the two renames leaves both versions on disk, never a half-written one.
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        discard(old)
    else:
        os.replace(tmp, final)


def discard(path: Path) -> None:
    """Remove a file or folder if present."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
