"""Where a benchmark script's figures go: bench/results/<name>-<UTC stamp>-<host>-<cores>cpu.{json,md}, the naming
every script here shares (the host and core count say which machine measured; the stamp keeps earlier runs)."""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path


def write_results(out: Path | str, name: str, doc: object, markdown: list[str], stamp: str = "%Y-%m-%dT%H%M") -> Path:
    """Write `doc` as JSON and `markdown` (lines) beside it under `out`; returns the path stem (without suffix)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    when = datetime.now(timezone.utc).strftime(stamp)
    stem = out / f"{name}-{when}-{platform.node() or 'host'}-{os.cpu_count()}cpu"
    stem.with_suffix(".json").write_text(json.dumps(doc, indent=2) + "\n")
    stem.with_suffix(".md").write_text("\n".join(markdown) + "\n")
    print(f"wrote {stem}.json and .md", flush=True)
    return stem
