"""The base model of stage `base`: a tiny Llama built and warmed up here, or a local HF model; its gate.

`tiny`: a byte-level BPE tokenizer trained on the train split's text, a small Llama model, and a short
language-model warm-up on the rendered training inputs (prompt + chosen response, the format stage's template),
so the reference is a real language model.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import great_expectations.expectations as gxe
import mlflow
import numpy as np
import pandas as pd
import torch
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
from transformers import AutoModelForCausalLM, AutoTokenizer

from alignx.config import BaseConfig, FormatConfig, SpaceConfig, WarmupConfig, as_dict
from alignx.contracts import ALIGNERS, PAIRS_DIR
from alignx.inputs.examples import count_records, format_record, iter_records
from alignx.modeling.logprobs import collate, sequence_logprobs
from alignx.modeling.model import build_tiny, load_base_spec, n_params
from alignx.modeling.retrieval import copy_probe, probe_examples
from alignx.modeling.warmup import Curriculum, induction_phase, induction_score, pack, warmup
from alignx.modeling.tokenizer import corpus_texts, pad_id, train_tokenizer
from alignx.pipeline import gates
from alignx.pipeline.tracking import pyplot


TRAIN = PAIRS_DIR / "train.parquet"
VAL = PAIRS_DIR / "val.parquet"
MAX_LOGGED_MB = 64  # larger weights (smollm2, hf:) stay out of the MLflow artifact store; the tokenizer is logged


def warmup_blocks(records: list[dict], tokenizer, seq_len: int, fmt: FormatConfig, spc: SpaceConfig) -> torch.Tensor:
    """Packed token blocks of rendered training inputs: ICA and PBA prompt + chosen response per record (with
    the format stage's settings: the warm-up sees exactly the inputs `format` will produce)."""
    docs = []
    for record in records:
        for aligner in ALIGNERS:
            row = format_record(record, aligner, tokenizer, fmt, spc)
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


def curriculum_of(w: WarmupConfig, tokenizer) -> Curriculum:
    """The induction curriculum of params `base.warmup` (random token ids skip the tokenizer's special tokens)."""
    return Curriculum(w.induction_steps, w.induction_share, tuple(w.induction_span), len(tokenizer.all_special_ids),
                      w.induction_batch_size, w.induction_seq_len, w.induction_lr)


def build_tiny_base(p: BaseConfig, fmt: FormatConfig, spc: SpaceConfig) -> tuple[torch.nn.Module, object, list[float]]:
    """Tokenizer from the train split, tiny model, warm-up; returns (model, tokenizer, losses)."""
    w = p.warmup
    if count_records(TRAIN) == 0:
        raise ValueError(f"{TRAIN}: no records to train the tokenizer on")
    stream = (record for chunk in iter_records(TRAIN) for record in chunk)
    tokenizer = train_tokenizer(corpus_texts(stream), p.tiny.vocab_size)
    model = build_tiny({**as_dict(p.tiny), "seed": p.seed}, tokenizer)
    sample = sample_records(TRAIN, w.max_records, p.seed)
    blocks = warmup_blocks(sample, tokenizer, w.seq_len, fmt, spc)
    curriculum = curriculum_of(w, tokenizer)
    losses = induction_phase(model, curriculum, p.seed) + warmup(model, blocks, w.steps, w.batch_size, w.lr, p.seed,
                                                                  curriculum=curriculum)
    return model, tokenizer, losses


def build_or_load(p: BaseConfig, fmt: FormatConfig, spc: SpaceConfig) -> tuple[torch.nn.Module, object, list[float]]:
    """The base model of params `base`: (model, tokenizer, warm-up losses; none for an existing model)."""
    if p.model == "tiny":
        return build_tiny_base(p, fmt, spc)
    model, tokenizer = load_base_spec(p.model, p.dtype)
    return model, tokenizer, []


def gate_texts(k: int = 64) -> list[str]:
    """Up to `k` corpus texts of the first train records: the gate's tokenizer round-trip sample."""
    return [t for t in itertools.islice(corpus_texts(next(iter_records(TRAIN, k), [])), k) if t]


def size_mb(model: torch.nn.Module) -> float:
    """The model's weights in MiB."""
    return sum(t.numel() * t.element_size() for t in model.state_dict().values()) / 2**20


def retrieval(model: torch.nn.Module, tokenizer, p: BaseConfig, fmt: FormatConfig, spc: SpaceConfig) -> dict[str, float]:
    """The base's in-context retrieval (alignx.modeling.retrieval): copy probe on val ICA examples, induction score."""
    examples = probe_examples(VAL, p.probe_records, tokenizer, fmt, spc)
    if examples.empty:
        raise ValueError(f"{VAL}: no val record renders as an ICA example; the copy probe needs some (base.probe_records)")
    vocab = model.get_input_embeddings().weight.shape[0]
    return {**copy_probe(model, tokenizer, examples), "induction_score": induction_score(model, vocab, p.seed),
            "probe_examples": len(examples)}


def base_figures(model: torch.nn.Module, tokenizer, losses: list[float], size: float) -> dict[str, float | None]:
    """The stage's figures: size, vocabulary, and the warm-up loss over its first and last tenth."""
    k = max(1, len(losses) // 10)
    return {
        "parameters": n_params(model),
        "size_mb": size,
        "vocab_size": len(tokenizer),
        "warmup_steps": len(losses),
        "warmup_loss_first": float(np.mean(losses[:k])) if losses else None,
        "warmup_loss_last": float(np.mean(losses[-k:])) if losses else None,
    }


def write_base(tmp: Path, model: torch.nn.Module, tokenizer) -> None:
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)


def gate_base(tmp: Path, texts: list[str], losses: list[float], read: dict[str, float], p: BaseConfig) -> gates.GateResult:
    """Loads as a plain transformers folder (safetensors, no remote code), the vocabulary fits the embedding,
    the tokenizer round-trips corpus text, log-probs are finite, the warm-up lowered the loss, and the model reads
    its context (copy probe and induction score at their floors, params base.min_copy_probe / min_induction)."""
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
    facts |= {"copy_probe": read["copy_probe"], "induction_score": read["induction_score"]}
    frame = pd.DataFrame([facts])
    names = ("loads", "safetensors", "vocab_fits", "roundtrip", "finite_logprobs", "loss_dropped")
    checks = [gates.all_true(c) for c in names]
    checks += [gxe.ExpectColumnValuesToBeBetween(column="copy_probe", min_value=p.min_copy_probe),
               gxe.ExpectColumnValuesToBeBetween(column="induction_score", min_value=p.min_induction)]
    return gates.check("base_model", frame, [*checks, gxe.ExpectColumnValuesToBeInSet(column="error", value_set=[""])])


def write_metrics(tmp: Path, figures: dict[str, float | None]) -> None:
    """`metrics/base.json`: the base's retrieval (copy probe, induction score) and warm-up figures, for DVC."""
    tmp.write_text(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}, indent=2) + "\n")


def gate_metrics(tmp: Path, _written: object = None) -> gates.GateResult:
    """The retrieval figures are fractions (the base gate has held them to their floors)."""
    doc = json.loads(tmp.read_text())
    frame = pd.DataFrame([{k: doc.get(k) for k in ("copy_probe", "induction_score")}])
    return gates.check("base_metrics", frame, [gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=1)
                                               for c in frame.columns])


def log_warmup(losses: list[float]) -> None:
    """The warm-up loss curve as MLflow metric history (one batch call) and a PNG."""
    now = int(time.time() * 1000)
    metrics = [Metric("warmup_loss", loss, now, step) for step, loss in enumerate(losses)]
    MlflowClient().log_batch(mlflow.active_run().info.run_id, metrics=metrics)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(losses)
    ax.set(xlabel="step", ylabel="LM loss", title="base warm-up")
    fig.tight_layout()
    mlflow.log_figure(fig, "plots/warmup_loss.png")
    plt.close(fig)
