"""Outputs that appear whole or not at all: write beside the target, validate, then rename into place."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from alignx.env import process_alive


def staging_path(final: Path) -> Path:
    """A fresh temporary path beside `final` (same filesystem, so the final rename is atomic). Leftovers of
    killed runs (`.<name>.tmp-<pid>` / `.<name>.old-<pid>` of a process that no longer exists) are removed."""
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_debris(final)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    discard(tmp)
    return tmp


def remove_debris(final: Path) -> list[Path]:
    """Remove the staging leftovers of `final` whose writing process is gone; return what was removed."""
    removed = []
    for kind in ("tmp", "old"):
        for path in final.parent.glob(f".{final.name}.{kind}-*"):
            pid = path.name.rsplit("-", 1)[-1]
            if pid.isdigit() and not process_alive(int(pid)):
                discard(path)
                removed.append(path)
    return removed

    return True


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
