"""Stage `base`: the reference / starting model and its tokenizer in `models/base/`.

`tiny`: a byte-level BPE tokenizer trained on the train split's text, a small Llama model, and a short
language-model warm-up on the rendered training inputs (prompt + chosen response, the format stage's template),
so the reference is a real language model. `smollm2` / `hf:<path>`: an existing model, saved as a plain folder.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from pathlib import Path

import great_expectations.expectations as gxe
import matplotlib
import mlflow
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
import numpy as np
import pandas as pd
import torch
from prefect import flow
from transformers import AutoModelForCausalLM, AutoTokenizer

from alignx import gates
from alignx.config import load_params
from alignx.examples import ALIGNERS, FormatConfig, count_records, format_record, iter_records
from alignx.logprobs import collate, sequence_logprobs
from alignx.model import build_tiny, load_base_spec, n_params, pack, warmup
from alignx.stage import stage
from alignx.tokenizer import corpus_texts, pad_id, train_tokenizer

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TRAIN = Path("data/pairs/train.parquet")
OUT = Path("models/base")
MAX_LOGGED_MB = 64  # larger weights (smollm2, hf:) stay out of the MLflow artifact store; the tokenizer is logged


def format_config() -> FormatConfig:
    """The format stage's settings: the warm-up sees exactly the inputs `format` will produce."""
    return FormatConfig.from_params(load_params("format"), load_params("space"))


def warmup_blocks(records: list[dict], tokenizer, seq_len: int) -> torch.Tensor:
    """Packed token blocks of rendered training inputs: ICA and PBA prompt + chosen response per record."""
    cfg = format_config()
    docs = []
    for record in records:
        for aligner in ALIGNERS:
            row = format_record(record, aligner, tokenizer, cfg)
            docs.append([*row["prompt_ids"].tolist(), *row["chosen_ids"].tolist()])
    return pack(docs, seq_len)


def sample_records(path: Path, k: int, seed: int) -> list[dict]:
    """A seeded sample of `k` records, read chunk by chunk (the file may not fit in memory)."""
    n = count_records(path)
    keep = set(np.random.default_rng(seed).permutation(n)[:k].tolist())
    sample, offset = [], 0
    for chunk in iter_records(path):
        sample += [r for i, r in enumerate(chunk, offset) if i in keep]
        offset += len(chunk)
    return sample


def build_tiny_base(p: dict) -> tuple[torch.nn.Module, object, list[float]]:
    """Tokenizer from the train split, tiny model, warm-up; returns (model, tokenizer, losses)."""
    w = p["warmup"]
    if count_records(TRAIN) == 0:
        raise ValueError(f"{TRAIN}: no records to train the tokenizer on")
    stream = (record for chunk in iter_records(TRAIN) for record in chunk)
    tokenizer = train_tokenizer(corpus_texts(stream), int(p["tiny"]["vocab_size"]))
    model = build_tiny({**p["tiny"], "seed": p["seed"]}, tokenizer)
    sample = sample_records(TRAIN, int(w["max_records"]), int(p["seed"]))
    blocks = warmup_blocks(sample, tokenizer, int(w["seq_len"]))
    losses = warmup(model, blocks, int(w["steps"]), int(w["batch_size"]), float(w["lr"]), int(p["seed"]))
    return model, tokenizer, losses


def write_base(tmp: Path, model: torch.nn.Module, tokenizer) -> None:
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)


def gate_base(tmp: Path, texts: list[str], losses: list[float]) -> gates.GateResult:
    """Loads as a plain transformers folder (safetensors, no remote code), the vocabulary fits the embedding,
    the tokenizer round-trips corpus text, log-probs are finite, and the warm-up lowered the loss."""
    facts = {"loads": False, "safetensors": (tmp / "model.safetensors").is_file() or any(tmp.glob("*.safetensors")),
             "vocab_fits": False, "roundtrip": False, "finite_logprobs": False, "error": ""}
    try:
        tokenizer = AutoTokenizer.from_pretrained(tmp, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(tmp, trust_remote_code=False).eval()
        facts["loads"] = True
        facts["vocab_fits"] = len(tokenizer) <= model.get_input_embeddings().weight.shape[0]
        encoded = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
        # Edge whitespace may be normalised by some pretrained tokenizers; the text itself must survive.
        facts["roundtrip"] = all(tokenizer.decode(ids).strip() == t.strip() for ids, t in zip(encoded, texts))
        with torch.no_grad():
            batch = collate([[tokenizer.eos_token_id]] * len(encoded), encoded, pad_id(tokenizer))
            facts["finite_logprobs"] = bool(torch.isfinite(sequence_logprobs(model, batch)).all())
    except Exception as exc:  # reported by the gate (what failed and why) instead of a bare traceback
        facts["error"] = f"{type(exc).__name__}: {exc}"
    # A warm-up must end below where it started (mean of the last vs the first tenth of the steps).
    k = max(1, len(losses) // 10)
    facts["loss_dropped"] = not losses or float(np.mean(losses[-k:])) < float(np.mean(losses[:k]))
    frame = pd.DataFrame([facts])
    names = ("loads", "safetensors", "vocab_fits", "roundtrip", "finite_logprobs", "loss_dropped")
    checks = [gates.all_true(c) for c in names]
    return gates.check("base_model", frame, [*checks, gxe.ExpectColumnValuesToBeInSet(column="error", value_set=[""])])


def log_warmup(losses: list[float]) -> None:
    """The warm-up loss curve as MLflow metric history (one batch call) and a PNG."""
    now = int(time.time() * 1000)
    metrics = [Metric("warmup_loss", loss, now, step) for step, loss in enumerate(losses)]
    MlflowClient().log_batch(mlflow.active_run().info.run_id, metrics=metrics)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(losses)
    ax.set(xlabel="step", ylabel="LM loss", title="base warm-up")
    fig.tight_layout()
    mlflow.log_figure(fig, "plots/warmup_loss.png")
    plt.close(fig)


@flow(name="base", log_prints=True)
def base_flow() -> str:
    """Build or load the base model, gate it, and publish `models/base/`."""
    with stage("base") as st:
        p = st.params
        spec = str(p["model"])
        if spec == "tiny":
            model, tokenizer, losses = build_tiny_base(p)
        else:
            model, tokenizer = load_base_spec(spec, str(p.get("dtype", "float32")))
            losses = []
        texts = [t for t in itertools.islice(corpus_texts(next(iter_records(TRAIN, 64), [])), 64) if t]
        size_mb = sum(t.numel() * t.element_size() for t in model.state_dict().values()) / 2**20
        st.publish(OUT, lambda tmp: write_base(tmp, model, tokenizer), lambda tmp: gate_base(tmp, texts, losses),
                   log_artifact=size_mb <= MAX_LOGGED_MB)
        if size_mb > MAX_LOGGED_MB:
            with tempfile.TemporaryDirectory() as tmp:
                tokenizer.save_pretrained(tmp)
                mlflow.log_artifacts(tmp, artifact_path="tokenizer")
        if losses:
            log_warmup(losses)
        k = max(1, len(losses) // 10)
        st.report({
            "parameters": n_params(model),
            "size_mb": size_mb,
            "vocab_size": len(tokenizer),
            "warmup_steps": len(losses),
            "warmup_loss_first": float(np.mean(losses[:k])) if losses else None,
            "warmup_loss_last": float(np.mean(losses[-k:])) if losses else None,
        })
    return str(OUT)
