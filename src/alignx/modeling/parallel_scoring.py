"""Scoring across N processes (GPUs, CPU ranks, nodes) under the same `deepspeed` launcher as training: the base
model's (`reference`, `eval_inputs`) and an aligner's (`evaluate`, ScoringJob.policy).

    parts = score_files(job, files)        # {key: (rows, chosen, rejected)}: every file's wanted rows, merged
    parts = score_passes([(job_a, files_a), (job_b, files_b)], parts_dir)   # several models, one launch

Every process builds the same `batch_plan` of a file (rows sorted by length, cut every `batch_size`) and rank r
scores planned batches r, r + N, r + 2N, ... (longest first, so the ranks' work is balanced), each padded to its
planned width (`logprobs.score_batches`): a row's log-probs are the same bits as in one process, whichever rank
scores it. Each rank writes its part of every file to a parts folder (shared by the nodes of a hostfile run); the
stage's process waits for the launcher, checks that every rank finished and that the parts cover every wanted row
exactly once, and merges them in the file's row order. A rank that fails or is killed fails the stage naming the
rank (with its error when it could write one); nothing is merged or published.

One process (`num_processes: 1`, no hostfile) scores in the stage's own process with the same functions.
`launch` and `rank_guard` (the rank markers and the checks) serve the data-parallel generation too
(alignx.generation.parallel).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
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
    """How a scoring pass runs: the base model folder, its device, examples per forward pass, the processes
    (`<setting>.num_processes` / `<setting>.hostfile`), and the model scored: the base model, or the aligner in
    `policy` (loaded as evaluation scores it, alignx.modeling.model.load_policy, in the base's stored precision)."""

    base: str
    device: str = "auto"
    batch_size: int = 32
    num_processes: int = 1
    hostfile: str = ""
    policy: str = ""  # an aligner folder; "" scores the base model
    setting: str = "reference"  # the params section holding num_processes / hostfile (named in errors)

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


def load_scorer(job: ScoringJob, device: str):
    """(model, tokenizer) that `job` scores with, on `device`: the base model (reference.load_base), or the
    aligner in `job.policy` in the base's stored precision, in eval mode."""
    from alignx.modeling.model import device_of, load_policy, stored_dtype
    from alignx.modeling.reference import load_base

    if not job.policy:
        return load_base(Path(job.base), device)
    model, tokenizer = load_policy(job.policy, job.base, stored_dtype(job.base))
    return model.to(device_of(device)).eval(), tokenizer


def score_files(job: ScoringJob, files: list[ScoringFile], parts_dir: Path) -> dict[str, Scored]:
    """Every file's wanted rows scored by `job.num_processes` processes (or this one), merged in row order."""
    return score_passes([(job, files)], parts_dir)


def score_passes(passes: list[tuple[ScoringJob, list[ScoringFile]]], parts_dir: Path) -> dict[str, Scored]:
    """Several models' files (keys unique over all passes) in ONE launch of `passes[0]`'s processes, each rank
    loading each pass's model in turn; or, with one process, in this one. Every file's wanted rows, in row order."""
    passes = [(job, files) for job, files in passes if files]
    if not passes:
        return {}
    keys = [f.key for _, files in passes for f in files]
    if len(set(keys)) != len(keys):
        raise ValueError(f"scoring: file keys must be unique over the passes, got {sorted(keys)}")
    head = passes[0][0]
    if not head.distributed:
        from alignx.modeling.tokenizer import pad_id

        out = {}
        for job, files in passes:
            model, tokenizer = load_scorer(job, job.device)
            out.update({f.key: score_shard(model, f, job.batch_size, pad_id(tokenizer)) for f in files})
        return out
    spec = {"passes": [{"job": asdict(job), "files": [asdict(f) for f in files]} for job, files in passes]}
    world = launch(head.num_processes, head.hostfile, MODULE, spec, parts_dir, head.setting)
    return {f.key: merge_parts(parts_dir, f, world) for _, files in passes for f in files}


def launch(num_processes: int, hostfile: str, module: str, spec: dict, parts_dir: Path, setting: str) -> int:
    """Run `module --spec <parts_dir>/spec.json` under the launcher (params `<setting>.num_processes` /
    `<setting>.hostfile`); returns the world size once every rank finished, else raises RankError naming the
    ranks that did not (nothing merged, nothing published)."""
    parts_dir.mkdir(parents=True, exist_ok=True)
    spec_file = parts_dir / "spec.json"
    spec_file.write_text(json.dumps(spec))
    cmd = launcher.launcher_command(num_processes, hostfile, module, ["--spec", str(spec_file)], f"{setting}.hostfile")
    print(f"[{setting}] launching {num_processes} process(es): {' '.join(cmd)}", flush=True)
    code = subprocess.run(cmd, env=launcher.launcher_env(num_processes)).returncode
    world = read_world(parts_dir, num_processes)
    check_ranks(parts_dir, world, code, setting)
    return world


def read_world(parts_dir: Path, expected: int) -> int:
    """The world size the ranks reported (a hostfile run has N per node), or `expected` when none started."""
    sizes = {int(p.read_text().split()[1]) for p in parts_dir.glob("rank*.started")}
    return max(sizes) if sizes else expected


def check_ranks(parts_dir: Path, world: int, code: int, setting: str = "scoring") -> None:
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
        raise RankError(f"{setting}: {detail} (launcher exit code {code}); nothing was published")


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


@contextmanager
def rank_guard(parts_dir: Path) -> Iterator[tuple[int, int, int]]:
    """(rank, world, local rank) of this launched process, with its markers in `parts_dir`: `rank<r>.started`
    (pid, world) before the work, `rank<r>.error` (the traceback) when it raises, `rank<r>.done` when it ends."""
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    (parts_dir / f"rank{rank}.started").write_text(f"{os.getpid()} {world}\n")
    try:
        from alignx import threads

        threads.configure()
        yield rank, world, int(os.environ.get("LOCAL_RANK", "0"))
    except BaseException:
        (parts_dir / f"rank{rank}.error").write_text(traceback.format_exc())
        raise
    (parts_dir / f"rank{rank}.done").write_text("ok\n")


def run_rank(spec_file: Path) -> None:
    """One launched process: score this rank's share of every file of every pass into
    `<parts>/<key>.rank<r>.parquet`."""
    parts_dir = spec_file.parent
    with rank_guard(parts_dir) as (rank, world, local_rank):
        from alignx.modeling.tokenizer import pad_id

        spec = json.loads(spec_file.read_text())
        for one in spec["passes"]:
            job, files = ScoringJob(**one["job"]), [ScoringFile(**f) for f in one["files"]]
            model, tokenizer = load_scorer(job, rank_device(job.device, local_rank))
            for f in files:
                rows, chosen, rejected = score_shard(model, f, job.batch_size, pad_id(tokenizer), rank, world,
                                                     progress=rank == 0)
                part = pd.DataFrame({"row": rows, "ref_chosen": chosen, "ref_rejected": rejected})
                part.to_parquet(parts_dir / f"{f.key}.rank{rank}.parquet", index=False)
            del model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="one rank of a data-parallel scoring pass")
    parser.add_argument("--spec", required=True, help="JSON file with the job and the files; parts go beside it")
    parser.add_argument("--local_rank", type=int, default=None, help="set by the deepspeed launcher")
    run_rank(Path(parser.parse_args(argv).spec))


if __name__ == "__main__":
    main()
