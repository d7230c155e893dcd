"""Stage `reference`: summed response-token log-probs of chosen and rejected under the base model for every
formatted example training reads (`example_id`, `ref_chosen`, `ref_rejected`), with their gate. `eval_inputs`
scores its examples with the same functions (alignx.modeling.eval_inputs). Either runs in one process or across N
(alignx.modeling.parallel_scoring).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from pathlib import Path

import great_expectations.expectations as gxe
import numpy as np
import pandas as pd
import torch

from alignx.config import ReferenceConfig
from alignx.contracts import ALIGNERS
from alignx.modeling.model import device_of, load_hf, stored_dtype
from alignx.modeling.parallel_scoring import ScoringFile, ScoringJob, score_files
from alignx.pipeline import gates

# Row positions to score per `<aligner>.<file stem>` (e.g. `ica.train`); a file not named is scored whole.
Wanted = Mapping[str, "list[int] | None"]


def scores_frame(example_ids: pd.Series, rows: np.ndarray, chosen: np.ndarray, rejected: np.ndarray) -> pd.DataFrame:
    """The reference log-probs of the scored rows of one formatted file, keyed by example_id, in file row order."""
    return pd.DataFrame({"example_id": example_ids.to_numpy()[rows], "ref_chosen": chosen, "ref_rejected": rejected})


def gate_reference(name: str, scores: pd.DataFrame, formatted_ids: pd.Series) -> gates.GateResult:
    """Finite values, and exactly one row per example to score (`formatted_ids`: every formatted example, or the
    ones training reads): same ids, no duplicates, none missing."""
    known = set(formatted_ids)
    frame = scores.assign(
        finite=np.isfinite(scores["ref_chosen"]) & np.isfinite(scores["ref_rejected"]),
        formatted=scores["example_id"].isin(known),
    )
    return gates.check(
        name,
        frame,
        [
            gxe.ExpectTableRowCountToEqual(value=len(formatted_ids)),
            gxe.ExpectColumnValuesToBeUnique(column="example_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="example_id"),
            gates.all_true("formatted"),
            gates.all_true("finite"),
        ],
    )


def score_all(job: ScoringJob, formatted: Path, tmp: Path, wanted: Wanted | None = None) -> tuple[list[gates.GateResult], dict]:
    """Reference log-probs of every `formatted/<aligner>/<name>.parquet` (of the rows `wanted` names, else all)
    into `tmp/<aligner>/<name>.parquet`, scored by `job.num_processes` processes (alignx.modeling.parallel_scoring:
    the same bits as one process); returns their gate results and figures (examples scored and in the file, mean
    reference margin, examples per second)."""
    wanted = wanted or {}
    files = []
    for aligner in ALIGNERS:
        if not (formatted / aligner).is_dir():
            raise FileNotFoundError(f"reference: {formatted / aligner} not found (run the formatting stage first)")
        for src in sorted((formatted / aligner).glob("*.parquet")):
            files.append(ScoringFile(f"{aligner}.{src.stem}", str(src), wanted.get(f"{aligner}.{src.stem}")))
    unknown = sorted(set(wanted) - {f.key for f in files})
    if unknown:
        raise KeyError(f"reference: rows wanted from {unknown}, which {formatted} does not hold")
    start, parts = time.perf_counter(), tmp / ".parts"
    try:
        scored = score_files(job, files, parts)
    finally:
        shutil.rmtree(parts, ignore_errors=True)
    results, figures = [], {}
    for f in files:
        aligner, stem = f.key.split(".", 1)
        ids = pd.read_parquet(f.src, columns=["example_id"])["example_id"]
        scores = scores_frame(ids, *scored[f.key])
        (tmp / aligner).mkdir(parents=True, exist_ok=True)
        scores.to_parquet(tmp / aligner / f"{stem}.parquet", index=False)
        expected = ids if f.rows is None else ids.iloc[sorted(set(f.rows))]
        results.append(gate_reference(f"reference_{aligner}_{stem}", scores, expected))
        figures[f"{aligner}.{stem}.examples"] = len(scores)
        figures[f"{aligner}.{stem}.formatted"] = len(ids)
        figures[f"{aligner}.{stem}.ref_margin_mean"] = float((scores["ref_chosen"] - scores["ref_rejected"]).mean())
    examples = sum(v for k, v in figures.items() if k.endswith(".examples"))
    figures["examples_per_second"] = examples / max(time.perf_counter() - start, 1e-9)
    figures["processes"] = job.num_processes
    return results, figures


def scoring_job(base: Path, cfg: ReferenceConfig) -> ScoringJob:
    """How the `reference` section says to score with the base model in `base`."""
    return ScoringJob(str(base), cfg.device, cfg.batch_size, cfg.num_processes, cfg.hostfile)


def load_base(base: Path, device: str) -> tuple[torch.nn.Module, object]:
    """The base model (in its stored precision, eval mode, on `device`) and its tokenizer, as every reference
    pass scores with it."""
    torch.manual_seed(0)
    model, tokenizer = load_hf(base, stored_dtype(base))
    return model.to(device_of(device)).eval(), tokenizer
