"""Reference scoring across N processes (GPUs, CPU ranks, nodes) under the same `deepspeed` launcher as training.

    parts = score_files(job, files)        # {key: (rows, chosen, rejected)}: every file's wanted rows, merged

Every process builds the same `batch_plan` of a file (rows sorted by length, cut every `batch_size`) and rank r
scores planned batches r, r + N, r + 2N, ... (longest first, so the ranks' work is balanced), each padded to its
planned width (`logprobs.score_batches`): a row's log-probs are the same bits as in one process, whichever rank
scores it. Each rank writes its part of every file to a parts folder (shared by the nodes of a hostfile run); the
stage's process waits for the launcher, checks that every rank finished and that the parts cover every wanted row
exactly once, and merges them in the file's row order. A rank that fails or is killed fails the stage naming the
rank (with its error when it could write one); nothing is merged or published.

One process (`num_processes: 1`, no hostfile) scores in the stage's own process with the same functions.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from alignx.modeling.logprobs import batch_plan, score_batches
from alignx.pipeline import launcher

SCORED_COLUMNS = ["example_id", "prompt_ids", "chosen_ids", "rejected_ids"]
MODULE = "alignx.modeling.parallel_scoring"


class RankError(RuntimeError):
    """A scoring rank failed, was killed, or left parts that do not cover the wanted rows."""


@dataclass(frozen=True)
class ScoringJob:
    """How a scoring pass runs: the base model folder, its device, examples per forward pass, and the processes
    (`reference.num_processes` / `reference.hostfile`)."""

    base: str
    device: str = "auto"
    batch_size: int = 32
    num_processes: int = 1
    hostfile: str = ""

    @property
    def distributed(self) -> bool:
        return self.num_processes > 1 or bool(self.hostfile)


@dataclass(frozen=True)
class ScoringFile:
    """One formatted file to score: `key` names its part files and its result; `rows` are the row positions to
    score (None: every row)."""

    key: str
    src: str
    rows: list[int] | None = None


Scored = tuple[np.ndarray, np.ndarray, np.ndarray]  # (row positions ascending, chosen log-probs, rejected log-probs)


def read_examples(src: str | Path) -> pd.DataFrame:
    """The id columns of a formatted file, in its row order."""
    return pd.read_parquet(src, columns=SCORED_COLUMNS)


def wanted_mask(n: int, rows: list[int] | None, src: str) -> np.ndarray | None:
    """A boolean mask over a file's `n` rows from row positions (None: all rows)."""
    if rows is None:
        return None
    rows_arr = np.asarray(rows, dtype=np.int64)
    if len(rows_arr) and (rows_arr.min() < 0 or rows_arr.max() >= n):
        raise IndexError(f"{src}: wanted row positions must lie in [0, {n}), got {rows_arr.min()}..{rows_arr.max()}")
    mask = np.zeros(n, dtype=bool)
    mask[rows_arr] = True
    return mask


def score_shard(model, file: ScoringFile, batch_size: int, pad_id: int, rank: int = 0, world: int = 1,
                progress: bool = True) -> Scored:
    """Rank `rank` of `world`'s share of one file: planned batches rank, rank + world, ...; rows ascending."""
    examples = read_examples(file.src)
    plan = batch_plan(examples, batch_size)[rank::world]
    rows, chosen, rejected = score_batches(model, examples, plan, pad_id, wanted_mask(len(examples), file.rows, file.src),
                                           progress)
    order = np.argsort(rows, kind="stable")
    return rows[order], chosen[order], rejected[order]


def score_files(job: ScoringJob, files: list[ScoringFile], parts_dir: Path) -> dict[str, Scored]:
    """Every file's wanted rows scored by `job.num_processes` processes (or this one), merged in row order."""
    if not job.distributed:
        from alignx.modeling.reference import load_base
        from alignx.modeling.tokenizer import pad_id

        model, tokenizer = load_base(Path(job.base), job.device)
        return {f.key: score_shard(model, f, job.batch_size, pad_id(tokenizer)) for f in files}
    parts_dir.mkdir(parents=True, exist_ok=True)
    spec = parts_dir / "spec.json"
    spec.write_text(json.dumps({"job": asdict(job), "files": [asdict(f) for f in files]}))
    cmd = launcher.launcher_command(job.num_processes, job.hostfile, MODULE, ["--spec", str(spec)], "reference.hostfile")
    print(f"[scoring] launching {job.num_processes} process(es): {' '.join(cmd)}", flush=True)
    code = subprocess.run(cmd, env=launcher.launcher_env(job.num_processes)).returncode
    world = read_world(parts_dir, job.num_processes)
    check_ranks(parts_dir, world, code)
    return {f.key: merge_parts(parts_dir, f, world) for f in files}


def read_world(parts_dir: Path, expected: int) -> int:
    """The world size the ranks reported (a hostfile run has N per node), or `expected` when none started."""
    sizes = {int(p.read_text().split()[1]) for p in parts_dir.glob("rank*.started")}
    return max(sizes) if sizes else expected


def check_ranks(parts_dir: Path, world: int, code: int) -> None:
    """Raise RankError naming every rank that did not finish (its error when it wrote one), or when the launcher
    failed."""
    failed = []
    for rank in range(world):
        if (parts_dir / f"rank{rank}.done").exists():
            continue
        error = parts_dir / f"rank{rank}.error"
        if error.exists():
            failed.append(f"rank {rank} failed: {error.read_text().strip().splitlines()[-1]}")
        elif (parts_dir / f"rank{rank}.started").exists():
            failed.append(f"rank {rank} died before finishing (killed, or out of memory)")
        else:
            failed.append(f"rank {rank} never started")
    if failed or code != 0:
        detail = "; ".join(failed) or "every rank finished"
        raise RankError(f"scoring: {detail} (launcher exit code {code}); nothing was published")


def merge_parts(parts_dir: Path, file: ScoringFile, world: int) -> Scored:
    """One file's rank parts, checked to cover every wanted row exactly once, in row order."""
    frames = [pd.read_parquet(parts_dir / f"{file.key}.rank{rank}.parquet") for rank in range(world)]
    merged = pd.concat(frames, ignore_index=True).sort_values("row", kind="stable")
    rows = merged["row"].to_numpy(dtype=np.int64)
    expected = (np.asarray(sorted(set(file.rows)), dtype=np.int64) if file.rows is not None
                else np.arange(len(pd.read_parquet(file.src, columns=["example_id"])), dtype=np.int64))
    if len(rows) != len(expected) or not np.array_equal(rows, expected):
        raise RankError(f"scoring: the parts of {file.src} cover {len(rows)} rows, expected {len(expected)} "
                        f"(duplicated or missing rows); nothing was published")
    return rows, merged["ref_chosen"].to_numpy(np.float64), merged["ref_rejected"].to_numpy(np.float64)


def rank_device(device: str, local_rank: int) -> str:
    """The device of one rank: an unindexed GPU device becomes this node's GPU `local_rank`."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return f"cuda:{local_rank}" if device == "cuda" else device


def run_rank(spec_file: Path) -> None:
    """One launched process: score this rank's share of every file into `<parts>/<key>.rank<r>.parquet`."""
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    parts_dir = spec_file.parent
    (parts_dir / f"rank{rank}.started").write_text(f"{os.getpid()} {world}\n")
    try:
        spec = json.loads(spec_file.read_text())
        job, files = ScoringJob(**spec["job"]), [ScoringFile(**f) for f in spec["files"]]
        from alignx import threads
        from alignx.modeling.reference import load_base
        from alignx.modeling.tokenizer import pad_id

        threads.configure()
        model, tokenizer = load_base(Path(job.base), rank_device(job.device, int(os.environ.get("LOCAL_RANK", "0"))))
        for f in files:
            rows, chosen, rejected = score_shard(model, f, job.batch_size, pad_id(tokenizer), rank, world,
                                                 progress=rank == 0)
            part = pd.DataFrame({"row": rows, "ref_chosen": chosen, "ref_rejected": rejected})
            part.to_parquet(parts_dir / f"{f.key}.rank{rank}.parquet", index=False)
    except BaseException:
        (parts_dir / f"rank{rank}.error").write_text(traceback.format_exc())
        raise
    (parts_dir / f"rank{rank}.done").write_text("ok\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="one rank of a data-parallel reference scoring pass")
    parser.add_argument("--spec", required=True, help="JSON file with the job and the files; parts go beside it")
    parser.add_argument("--local_rank", type=int, default=None, help="set by the deepspeed launcher")
    run_rank(Path(parser.parse_args(argv).spec))


if __name__ == "__main__":
    main()
