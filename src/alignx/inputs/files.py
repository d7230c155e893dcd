"""Files of training and evaluation inputs: formatted examples (`format`, `eval_inputs`) and their reference
log-probs under the base model (`reference`, `eval_inputs`), each with its gate.

Records stream in chunks (parquet batches) into one parquet writer per output file; only the small per-example
gate facts (lengths, ids, mode) stay in memory for the gate and the length histograms.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import great_expectations.expectations as gxe
import matplotlib
import mlflow
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from alignx.contracts import ALIGNERS, MODES
from alignx.inputs.examples import SCHEMA, FormatSpec, count_records, format_records, gate_frame, iter_records, to_table
from alignx.modeling.logprobs import score_examples
from alignx.pipeline import gates

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def format_file(src: Path, dest: Path, aligner: str, tokenizer, cfg: FormatSpec, chunk_rows: int,
                prepare: Callable[[list[dict]], list[dict]] | None = None) -> pd.DataFrame:
    """Format one input file into `dest` (each chunk of records passed through `prepare` first, e.g. the
    annotator's directions: alignx.annotation.apply); returns its gate frame."""
    facts = []
    with pq.ParquetWriter(dest, SCHEMA) as writer:
        bar = tqdm(total=count_records(src), desc=f"format {aligner}/{src.stem}", unit="rec")
        for chunk in iter_records(src, chunk_rows):
            examples = format_records(prepare(chunk) if prepare else chunk, aligner, tokenizer, cfg)
            writer.write_table(to_table(examples))
            facts.append(gate_frame(examples, 0))
            bar.update(len(chunk))
        bar.close()
    frame = pd.concat(facts, ignore_index=True) if facts else gate_frame(format_records([], aligner, tokenizer, cfg), 0)
    return frame.assign(n_records=count_records(src))


def gate_examples(name: str, frame: pd.DataFrame, max_len: int) -> gates.GateResult:
    """Lengths <= max_len, >= 1 response token each, chosen != rejected, one example per record, unique ids,
    a known mode, and no per-record problem (the message says which record and why)."""
    n_records = int(frame["n_records"].iloc[0]) if len(frame) else 0
    return gates.check(
        name,
        frame,
        [
            gxe.ExpectTableRowCountToEqual(value=n_records),
            gxe.ExpectColumnValuesToBeUnique(column="example_id"),
            gxe.ExpectColumnValuesToBeUnique(column="record_id"),
            gxe.ExpectColumnValuesToBeInSet(column="problem", value_set=[""]),
            gxe.ExpectColumnValuesToBeBetween(column="length", max_value=max_len),
            gxe.ExpectColumnValuesToBeBetween(column="n_chosen", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="n_rejected", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="n_prompt", min_value=1),
            gates.all_true("responses_differ"),
            gxe.ExpectColumnValuesToBeInSet(column="mode", value_set=[*MODES, "profile", "oracle"]),
        ],
    )


def log_lengths(aligner: str, name: str, frame: pd.DataFrame) -> dict[str, float]:
    """Token-length histogram per mode (PNG artifact) and the file's length / truncation figures."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for mode, group in frame.groupby("mode"):
        ax.hist(group["length"], bins=30, alpha=0.5, label=f"{mode} ({len(group)})")
    ax.set(xlabel="tokens (prompt + longer response)", ylabel="examples", title=f"{aligner} / {name}")
    ax.legend()
    fig.tight_layout()
    mlflow.log_figure(fig, f"plots/lengths_{aligner}_{name}.png")
    plt.close(fig)
    key = f"{aligner}.{name}"
    figures = {
        f"{key}.examples": len(frame),
        f"{key}.length_mean": float(frame["length"].mean()) if len(frame) else 0.0,
        f"{key}.length_max": int(frame["length"].max()) if len(frame) else 0,
        f"{key}.truncated": int((frame["n_cut"] > 0).sum()),
        f"{key}.items_cut": int(frame["n_cut"].sum()),
    }
    figures.update({f"{key}.mode_{m}": int(n) for m, n in frame["mode"].value_counts().items()})
    return figures


def score_file(model, src: Path, batch_size: int, pad: int) -> pd.DataFrame:
    """The reference log-probs of one formatted file, keyed by example_id, in the file's row order."""
    examples = pd.read_parquet(src, columns=["example_id", "prompt_ids", "chosen_ids", "rejected_ids"])
    chosen, rejected = score_examples(model, examples, batch_size, pad)
    return pd.DataFrame({"example_id": examples["example_id"], "ref_chosen": chosen, "ref_rejected": rejected})


def gate_reference(name: str, scores: pd.DataFrame, formatted_ids: pd.Series) -> gates.GateResult:
    """Finite values, and exactly one row per formatted example (same ids, no duplicates, none missing)."""
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




def format_all(tmp: Path, sources: dict[str, Path], tokenizer, cfg: FormatSpec, chunk_rows: int,
               prepare: Callable[[list[dict]], list[dict]] | None = None) -> dict:
    """Format every source file for both aligners into `tmp/<aligner>/<name>.parquet`; {(aligner, name): gate frame}.
    `prepare` (PBA only: ICA renders the history text, not its directions) transforms each chunk of records."""
    frames = {}
    for aligner in ALIGNERS:
        (tmp / aligner).mkdir(parents=True)
        for name, src in sources.items():
            frames[aligner, name] = format_file(src, tmp / aligner / f"{name}.parquet", aligner, tokenizer, cfg, chunk_rows,
                                                prepare if aligner == "pba" else None)
    return frames


def format_gates(frames: dict, max_len: int, prefix: str) -> list[gates.GateResult]:
    return [gate_examples(f"{prefix}_{a}_{n}", f, max_len) for (a, n), f in frames.items()]


def format_figures(frames: dict) -> dict[str, float]:
    """Length figures of every formatted file (and its histogram, logged to MLflow)."""
    figures: dict[str, float] = {}
    for (aligner, name), frame in frames.items():
        figures.update(log_lengths(aligner, name, frame))
    return figures


def score_all(model, formatted: Path, tmp: Path, batch_size: int, pad: int) -> tuple[list[gates.GateResult], dict]:
    """Reference log-probs of every `formatted/<aligner>/<name>.parquet` into `tmp/<aligner>/<name>.parquet`;
    returns their gate results and figures (examples, mean reference margin, examples per second)."""
    results, figures, start = [], {}, time.perf_counter()
    for aligner in ALIGNERS:
        if not (formatted / aligner).is_dir():
            raise FileNotFoundError(f"reference: {formatted / aligner} not found (run the formatting stage first)")
        (tmp / aligner).mkdir(parents=True)
        for src in sorted((formatted / aligner).glob("*.parquet")):
            scores = score_file(model, src, batch_size, pad)
            scores.to_parquet(tmp / aligner / src.name, index=False)
            ids = pd.read_parquet(src, columns=["example_id"])["example_id"]
            results.append(gate_reference(f"reference_{aligner}_{src.stem}", scores, ids))
            figures[f"{aligner}.{src.stem}.examples"] = len(scores)
            figures[f"{aligner}.{src.stem}.ref_margin_mean"] = float((scores["ref_chosen"] - scores["ref_rejected"]).mean())
    examples = sum(v for k, v in figures.items() if k.endswith(".examples"))
    figures["examples_per_second"] = examples / max(time.perf_counter() - start, 1e-9)
    return results, figures


def base_tokenizer(base: Path, max_len: int):
    """The base model's tokenizer, after checking that `max_len` fits its position embeddings."""
    from transformers import AutoConfig, AutoTokenizer

    positions = getattr(AutoConfig.from_pretrained(base), "max_position_embeddings", None)
    if positions is not None and max_len > positions:
        raise ValueError(f"params format.max_len={max_len} exceeds the base model's {positions} positions ({base})")
    return AutoTokenizer.from_pretrained(base, trust_remote_code=False)
