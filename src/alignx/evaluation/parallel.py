"""Evaluation's scoring across N processes (`evaluate.num_processes` / `evaluate.hostfile`), in one launch.

    res, tables = scored(ev, jobs, lambda: measure(ev, frames, p), parts_dir)

The measurements run once while the two Scorers record (each call keeps its inputs and returns zeros: no input of
any measurement depends on a score), every recorded call becomes one file that the ranks score
(alignx.modeling.parallel_scoring: each rank plans a call's batches as one process would and takes batches r, r + N,
...), and the measurements run again replaying the merged scores in call order: the same bits, hence the same
figures, as one process. Two calls of the same model on identical inputs are scored once (the second replays the
first's scores, which are the same bits). A rank that fails raises RankError naming it before any figure exists.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from alignx.evaluation.scoring import ID_COLUMNS, Scorer
from alignx.modeling.parallel_scoring import RankError, ScoringFile, ScoringJob, score_passes

T = TypeVar("T")


def digest(frame: pd.DataFrame) -> str:
    """A fingerprint of a call's inputs: every row's prompt, chosen and rejected ids, in order."""
    h = hashlib.sha256()
    for column in ID_COLUMNS:
        for ids in frame[column]:
            h.update(np.asarray(ids, dtype=np.int64).tobytes())
            h.update(b"|")
        h.update(b"#")
    return h.hexdigest()


def record(scorers: dict[str, Scorer], measure: Callable[[], object]) -> dict[str, list[pd.DataFrame]]:
    """Every scoring call `measure` makes, per scorer, in call order (the scorers return zeros meanwhile)."""
    for s in scorers.values():
        s.recorded = []
    try:
        measure()
        return {name: s.recorded for name, s in scorers.items()}
    finally:
        for s in scorers.values():
            s.recorded = None


def scored(scorers: dict[str, Scorer], jobs: dict[str, ScoringJob], measure: Callable[[], T], parts_dir: Path) -> T:
    """`measure()` with every call of `scorers[name]` scored by `jobs[name]`'s model across the first job's
    processes (module docstring); also sets each scorer's seconds (its share of the launch's wall time, by pairs)
    and prints what was shared."""
    calls = record(scorers, measure)
    passes, keys, shared = [], {}, 0
    (parts_dir / "calls").mkdir(parents=True, exist_ok=True)
    for name, frames in calls.items():
        files, seen = [], {}
        for i, frame in enumerate(frames):
            fingerprint = digest(frame)
            if fingerprint in seen:
                keys[name, i], shared = seen[fingerprint], shared + len(frame)
                continue
            key = f"{name}.{i:05d}"
            src = parts_dir / "calls" / f"{key}.parquet"
            frame.assign(example_id=[f"{key}:{r}" for r in range(len(frame))]).to_parquet(src, index=False)
            files.append(ScoringFile(key, str(src)))
            keys[name, i] = seen[fingerprint] = key
        passes.append((jobs[name], files))
    total = sum(len(f) for frames in calls.values() for f in frames)
    print(f"evaluation: {sum(len(f) for f in calls.values())} scoring calls, {total} pairs ({shared} shared with an "
          f"identical earlier call), across {jobs[next(iter(jobs))].num_processes} process(es)", flush=True)
    start = time.perf_counter()
    merged = score_passes(passes, parts_dir)
    seconds = time.perf_counter() - start
    for name, s in scorers.items():
        answers = []
        for i, frame in enumerate(calls[name]):
            rows, chosen, rejected = merged[keys[name, i]]
            if not np.array_equal(rows, np.arange(len(frame))):
                raise RankError(f"evaluation: call {i} of {name} came back with {len(rows)} of {len(frame)} rows")
            answers.append((chosen, rejected))
        s.answers = answers
        s.seconds += seconds * sum(len(f) for f in calls[name]) / max(total, 1)
    try:
        out = measure()
    finally:
        left = {name: len(s.answers or []) for name, s in scorers.items()}
        for s in scorers.values():
            s.answers = None
    if any(left.values()):
        raise RuntimeError(f"evaluation: recorded calls not replayed: {left}")
    return out
