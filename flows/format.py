"""Stage `format`: tokenized ICA and PBA examples of every split and benchmark, `data/format/{ica,pba}/<name>.parquet`.

Records stream in chunks (parquet batches) into one parquet writer per output file; only the small per-example
gate facts (lengths, ids, mode) stay in memory for the gate and the length histograms.
"""

from __future__ import annotations

from pathlib import Path

import great_expectations.expectations as gxe
import matplotlib
import mlflow
import pandas as pd
import pyarrow.parquet as pq
from prefect import flow
from tqdm.auto import tqdm
from transformers import AutoConfig, AutoTokenizer

from alignx import gates
from alignx.config import load_params
from alignx.examples import (
    ALIGNERS, SCHEMA, FormatConfig, count_records, format_records, gate_frame, iter_records, to_table,
)  # fmt: skip
from alignx.formatting import MODES
from alignx.stage import stage

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PAIRS = Path("data/pairs")
BENCHMARKS = Path("data/benchmarks")
BASE = Path("models/base")
OUT = Path("data/format")
SPLITS = ("train", "val", "test", "novel")


def inputs() -> dict[str, Path]:
    """Output name -> input file: the four splits, then every benchmark file."""
    found = {s: PAIRS / f"{s}.parquet" for s in SPLITS}
    missing = [str(p) for p in found.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"format: missing split files {missing} (run the `pairs` stage first)")
    found.update({p.stem: p for p in sorted(BENCHMARKS.glob("*.parquet"))})
    return found


def format_file(src: Path, dest: Path, aligner: str, tokenizer, cfg: FormatConfig, chunk_rows: int) -> pd.DataFrame:
    """Format one input file into `dest`; returns its gate frame."""
    facts = []
    with pq.ParquetWriter(dest, SCHEMA) as writer:
        bar = tqdm(total=count_records(src), desc=f"format {aligner}/{src.stem}", unit="rec")
        for chunk in iter_records(src, chunk_rows):
            examples = format_records(chunk, aligner, tokenizer, cfg)
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
            gxe.ExpectColumnValuesToBeInSet(column="mode", value_set=[*MODES, "profile", "golden"]),
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


@flow(name="format", log_prints=True)
def format_flow() -> str:
    """Format, gate and publish `data/format/` (both aligners, every split and benchmark)."""
    with stage("format") as st:
        p, spc = st.params, load_params("space")
        cfg = FormatConfig.from_params(p, spc)
        tokenizer = AutoTokenizer.from_pretrained(BASE, trust_remote_code=False)
        positions = getattr(AutoConfig.from_pretrained(BASE), "max_position_embeddings", None)
        if positions is not None and cfg.max_len > positions:
            raise ValueError(
                f"params format.max_len={cfg.max_len} exceeds the base model's {positions} positions ({BASE})"
            )
        files = inputs()
        frames: dict[tuple[str, str], pd.DataFrame] = {}

        def write(tmp: Path) -> None:
            for aligner in ALIGNERS:
                (tmp / aligner).mkdir(parents=True)
                for name, src in files.items():
                    dest = tmp / aligner / f"{name}.parquet"
                    frames[aligner, name] = format_file(src, dest, aligner, tokenizer, cfg, int(p["chunk_rows"]))

        def gate(tmp: Path) -> list[gates.GateResult]:
            return [gate_examples(f"format_{a}_{n}", f, cfg.max_len) for (a, n), f in frames.items()]

        st.publish(OUT, write, gate, log_artifact=False)
        figures: dict[str, float] = {}
        for (aligner, name), frame in frames.items():
            figures.update(log_lengths(aligner, name, frame))
        st.report(figures)
    return str(OUT)
