"""ICA val accuracy against the number of train users and against steps: does ICA learn a rule that carries to
new users, and how much data and how many steps does it take?

For each user count N, ICA trains (the pipeline's trainer and `train` params for ica) on the examples of N train
users (a seeded sample of users; all their records), for --steps steps, measuring val accuracy --val-points times
(train.val_points, evenly spaced). With fewer users, the same steps are more epochs over them.

    .venv/bin/python bench/ica_curves.py --users 300,1500 --steps 360 --val-points 6

Needs `dvc repro reference` (data/format/ica, data/reference/ica, models/base). Results go to
bench/results/ica_curves-<date>-<host>-<cores>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from alignx.config import TrainConfig, as_dict, load_section
from alignx.contracts import BASE_DIR, FORMAT_DIR, REFERENCE_DIR
from alignx.training.trainer import TrainPaths, train
from result_files import write_results  # bench/result_files.py, beside this script


def subset(n_users: int, seed: int, tmp: Path) -> tuple[str, str, int]:
    """Train examples and reference rows of `n_users` seeded train users, written under `tmp`."""
    frame = pd.read_parquet(FORMAT_DIR / "ica" / "train.parquet")
    ref = pd.read_parquet(REFERENCE_DIR / "ica" / "train.parquet")
    users = np.sort(frame["user_id"].unique())
    keep = set(np.random.default_rng(seed).permutation(users)[:n_users])
    frame = frame[frame["user_id"].isin(keep)]
    ref = ref[ref["example_id"].isin(set(frame["example_id"]))]
    paths = (tmp / f"train-{n_users}.parquet", tmp / f"ref-{n_users}.parquet")
    frame.to_parquet(paths[0], index=False)
    ref.to_parquet(paths[1], index=False)
    return str(paths[0]), str(paths[1]), len(frame)


def curve(n_users: int, steps: int, points: int, tmp: Path) -> dict:
    """One ICA run on `n_users` users: val accuracy at each measured step, CPU minutes."""
    params = as_dict(load_section("train").for_aligner("ica"))
    examples, reference, n = subset(n_users, params["seed"], tmp)
    epochs = math.ceil(steps * params["global_batch"] / n)  # enough passes for `steps` (max_steps stops the run)
    cfg = TrainConfig.from_params(params | {"max_steps": steps, "epochs": epochs, "val_points": points,
                                            "checkpoint_every": 10**9})
    paths = TrainPaths(examples, reference, str(BASE_DIR), str(tmp / f"model-{n_users}"), str(tmp / f"ckpt-{n_users}"),
                       str(FORMAT_DIR / "ica" / "val.parquet"), str(REFERENCE_DIR / "ica" / "val.parquet"))
    start = time.process_time()
    with mlflow.start_run(run_name=f"ica-{n_users}-users") as run:
        train(cfg, paths, run.info.run_id)
    history = MlflowClient().get_metric_history(run.info.run_id, "val/accuracy")
    return {"users": n_users, "examples": n, "epochs": steps * cfg.global_batch / n,
            "cpu_minutes": (time.process_time() - start) / 60,
            "val_accuracy": {int(m.step): m.value for m in sorted(history, key=lambda m: m.step)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="300,1500", help="comma-separated train user counts")
    parser.add_argument("--steps", type=int, default=360)
    parser.add_argument("--val-points", type=int, default=6)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")  # a scratch store: bench runs stay out of mlflow.db
        for n in (int(u) for u in args.users.split(",")):
            rows.append(curve(n, args.steps, args.val_points, Path(tmp)))
            print(json.dumps(rows[-1]), flush=True)
    steps = sorted({s for r in rows for s in r["val_accuracy"]})
    lines = ["| train users | examples | epochs | CPU min | " + " | ".join(f"val @ {s}" for s in steps) + " |",
             "|---:|---:|---:|---:|" + "---:|" * len(steps)]
    for r in rows:
        cells = " | ".join(f"{r['val_accuracy'][s]:.1%}" if s in r["val_accuracy"] else "" for s in steps)
        lines.append(f"| {r['users']} | {r['examples']} | {r['epochs']:.1f} | {r['cpu_minutes']:.1f} | {cells} |")
    write_results(args.out, "ica_curves", rows, lines)


if __name__ == "__main__":
    main()
