"""Stage `format`: formatted ICA / PBA examples of AlignX record files, with their gate and length figures.

Used for the training inputs (`format`: train and val) and, with the same code and settings, for the evaluation
inputs (`eval_inputs`, alignx.modeling.eval_inputs). Records stream in chunks (parquet batches) into one parquet
writer per output file; only the small per-example gate facts (lengths, ids, mode) stay in memory for the gate and
the length histograms.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import great_expectations.expectations as gxe
import mlflow
import pandas as pd
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from alignx.config import FormatConfig, SpaceConfig
from alignx.contracts import ALIGNERS, MODES
from alignx.inputs.counterfactual import KINDS
from alignx.inputs.examples import count_records, format_records, gate_frame, iter_records, schema, to_table
from alignx.pipeline import gates
from alignx.pipeline.tracking import pyplot


# (aligner, input name) -> the gate frame of that formatted file (alignx.inputs.examples.gate_frame).
Frames = dict[tuple[str, str], pd.DataFrame]


# What a chunk of records passes through before it is formatted (e.g. the annotator filling history items'
# directions: alignx.annotation.apply.preparer); None: records as read.
Prepare = Callable[[list[dict]], list[dict]] | None


def format_file(src: Path, dest: Path, aligner: str, tokenizer, fmt: FormatConfig, spc: SpaceConfig,
                prepare: Prepare = None) -> pd.DataFrame:
    """Format one input file into `dest`, `fmt.chunk_rows` records at a time (each chunk through `prepare`
    first); returns its gate frame."""
    facts = []
    with pq.ParquetWriter(dest, schema(aligner)) as writer:
        bar = tqdm(total=count_records(src), desc=f"format {aligner}/{src.stem}", unit="rec")
        for chunk in iter_records(src, fmt.chunk_rows):
            examples = format_records(prepare(chunk) if prepare else chunk, aligner, tokenizer, fmt, spc)
            writer.write_table(to_table(examples, aligner))
            facts.append(gate_frame(examples, 0))
            bar.update(len(chunk))
        bar.close()
    frame = pd.concat(facts, ignore_index=True) if facts else gate_frame(format_records([], aligner, tokenizer, fmt, spc), 0)
    return frame.assign(n_records=count_records(src))


def format_all(tmp: Path, sources: dict[str, Path], tokenizer, fmt: FormatConfig, spc: SpaceConfig,
               prepare: Prepare = None) -> Frames:
    """Format every source file for both aligners into `tmp/<aligner>/<name>.parquet`; {(aligner, name): gate frame}.
    `prepare` applies to PBA only (ICA renders the history text, not its directions)."""
    frames = {}
    for aligner in ALIGNERS:
        (tmp / aligner).mkdir(parents=True)
        for name, src in sources.items():
            frames[aligner, name] = format_file(src, tmp / aligner / f"{name}.parquet", aligner, tokenizer, fmt, spc,
                                                prepare if aligner == "pba" else None)
    return frames


def gate_examples(name: str, frame: pd.DataFrame, max_len: int) -> gates.GateResult:
    """Lengths <= max_len, >= 1 response token each, chosen != rejected, one example per record (plus its
    counterfactuals: PBA train only, at most one of each kind), unique ids, a known mode, and no per-record problem
    (the message says which record and why)."""
    n_records = int(frame["n_records"].iloc[0]) if len(frame) else 0
    augmented = frame["counterfactual"] != ""
    frame = frame.assign(
        # A counterfactual example comes from a train record, and sits beside that record's own example.
        counterfactual_in_train=~augmented | (frame["split"] == "train"),
        counterfactual_beside_original=~augmented | frame["record_id"].isin(frame.loc[~augmented, "record_id"]),
    )
    return gates.check(
        name,
        frame,
        [
            gxe.ExpectTableRowCountToEqual(value=n_records + int(augmented.sum())),
            gxe.ExpectColumnValuesToBeUnique(column="example_id"),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["record_id", "counterfactual"]),
            gxe.ExpectColumnValuesToBeInSet(column="counterfactual", value_set=["", *KINDS]),
            gates.all_true("counterfactual_in_train"),
            gates.all_true("counterfactual_beside_original"),
            gxe.ExpectColumnValuesToBeInSet(column="problem", value_set=[""]),
            gxe.ExpectColumnValuesToBeBetween(column="length", max_value=max_len),
            gxe.ExpectColumnValuesToBeBetween(column="n_chosen", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="n_rejected", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="n_prompt", min_value=1),
            gates.all_true("responses_differ"),
            gxe.ExpectColumnValuesToBeInSet(column="mode", value_set=[*MODES, "profile", "oracle"]),
        ],
    )


def format_gates(frames: Frames, max_len: int, prefix: str) -> list[gates.GateResult]:
    """The gate of every formatted file, named `<prefix>_<aligner>_<name>`."""
    return [gate_examples(f"{prefix}_{a}_{n}", f, max_len) for (a, n), f in frames.items()]


def log_lengths(aligner: str, name: str, frame: pd.DataFrame) -> dict[str, float]:
    """Token-length histogram per mode (PNG artifact) and the file's length / truncation figures."""
    plt = pyplot()
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
    figures.update({f"{key}.counterfactual_{k}": int(n) for k, n in frame["counterfactual"].value_counts().items() if k})
    return figures


def format_figures(frames: Frames) -> dict[str, float]:
    """Length figures of every formatted file (and its histogram, logged to MLflow)."""
    figures: dict[str, float] = {}
    for (aligner, name), frame in frames.items():
        figures.update(log_lengths(aligner, name, frame))
    return figures


def base_tokenizer(base: Path, max_len: int):
    """The base model's tokenizer, after checking that `max_len` fits its position embeddings."""
    from transformers import AutoConfig, AutoTokenizer

    positions = getattr(AutoConfig.from_pretrained(base), "max_position_embeddings", None)
    if positions is not None and max_len > positions:
        raise ValueError(f"params format.max_len={max_len} exceeds the base model's {positions} positions ({base})")
    return AutoTokenizer.from_pretrained(base, trust_remote_code=False)
