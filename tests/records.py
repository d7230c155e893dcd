"""Small AlignX records in the contract schema (docs/architecture.md), written by hand so the training-input
tests do not depend on the world simulator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

N = 90
TOPICS = ("gardening", "chess", "sourdough", "cycling", "astronomy", "jazz", "hiking", "pottery")


def direction(rng: np.random.Generator, density: float = 0.1) -> list[float]:
    """A sparse direction vector in {0, 0.5, 1}."""
    v = np.full(N, 0.5)
    on = rng.random(N) < density
    v[on] = rng.choice([0.0, 1.0], on.sum())
    return v.tolist()


def record(i: int, split: str = "train", rng: np.random.Generator | None = None, n_ugc: int = 4, n_pair: int = 4,
           demo: bool = True) -> dict:
    """Record `i` with `n_ugc` UGC items, `n_pair` PAIR items and (optionally) DEMO text."""
    rng = rng or np.random.default_rng(i)
    topic = TOPICS[i % len(TOPICS)]
    return {
        "record_id": f"{split}-r{i}",
        "user_id": f"{split}-u{i // 2}",
        "split": split,
        "prompt": f"Post {i}: what is the best way to get started with {topic}?",
        "chosen": f"Short answer {i}: start small with {topic} and enjoy it.",
        "rejected": f"Long answer {i}: {topic} requires years of careful, detailed study before anything else.",
        "Preference Direction": direction(rng),
        "Demographic Information": f"DEMO-{i}: a person in their thirties who likes {topic}." if demo else "",
        "User-Generated Content": [
            {"prompt": f"UGC-post-{i}-{k} about {topic}", "comment": f"UGC-comment-{i}-{k}: I love {topic}!",
             "Preference Direction": direction(rng)}
            for k in range(n_ugc)
        ],
        "Pair-wise Comparative Feedback": [
            {"prompt": f"PAIR-post-{i}-{k}", "chosen": f"PAIR-chosen-{i}-{k} brief", "rejected": f"PAIR-rejected-{i}-{k} verbose",
             "Preference Direction": direction(rng)}
            for k in range(n_pair)
        ],
        "profile": "",
        "ground_truth_persona": "",
    }


def records(n: int, split: str = "train", seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [record(i, split, rng) for i in range(n)]


def write_pairs(root: Path, n_train: int = 48, n_eval: int = 8) -> None:
    """data/pairs/{train,val,test,novel}.parquet and one benchmark under `root`."""
    (root / "data/pairs").mkdir(parents=True, exist_ok=True)
    (root / "data/benchmarks").mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("val", n_eval), ("test", n_eval), ("novel", n_eval)):
        pd.DataFrame(records(n, split, seed=hash(split) % 1000)).to_parquet(root / f"data/pairs/{split}.parquet")
    bench = records(n_eval, "psoups", seed=7)
    for r in bench:  # P-Soups style: history without direction vectors, a given profile
        r["profile"] = "Concise communication style, Likes science"
        r["User-Generated Content"] = []
        for item in r["Pair-wise Comparative Feedback"]:
            item["Preference Direction"] = None
    pd.DataFrame(bench).to_parquet(root / "data/benchmarks/psoups.parquet")
    manifest = {"root": "tests", "benchmarks": {"psoups": {"source": "tests/records.py", "records": n_eval}}}
    (root / "data/benchmarks/manifest.json").write_text(json.dumps(manifest))
