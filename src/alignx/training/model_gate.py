"""The gate of stage `train`'s exported model folder: loads as a plain transformers causal LM (no DeepSpeed), finite
weights, the base model's vocabulary."""

from __future__ import annotations

from pathlib import Path

import great_expectations.expectations as gxe
import pandas as pd
import torch

from alignx.pipeline import gates


def gate_model(path: Path, base: Path) -> list[gates.GateResult]:
    """The folder loads as a plain transformers causal LM with its tokenizer (no DeepSpeed), every weight is
    finite, and model and tokenizer vocabularies equal the base model's."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    row = {"loads": True, "error": "", "vocab": -1, "tokenizer_vocab": -1}
    tensors = pd.DataFrame({"tensor": pd.Series(dtype=str), "finite": pd.Series(dtype=bool)})
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(path)
        row["vocab"], row["tokenizer_vocab"] = model.config.vocab_size, len(tokenizer)
        tensors = pd.DataFrame(
            [{"tensor": name, "finite": bool(torch.isfinite(t).all())} for name, t in model.state_dict().items()]
        )
    except Exception as exc:  # reported by the gate with the folder named, not as a bare traceback
        row.update(loads=False, error=f"{type(exc).__name__}: {exc}")
    base_vocab = AutoConfig.from_pretrained(base).vocab_size
    base_tokenizer_vocab = len(AutoTokenizer.from_pretrained(base))
    summary = pd.DataFrame([row])
    return [
        gates.check("model_loads", summary, [
            gxe.ExpectColumnValuesToBeInSet(column="loads", value_set=[True]),
            gxe.ExpectColumnValuesToBeInSet(column="vocab", value_set=[base_vocab]),
            gxe.ExpectColumnValuesToBeInSet(column="tokenizer_vocab", value_set=[base_tokenizer_vocab]),
        ]),
        gates.check("model_weights_finite", tensors, [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            gates.all_true("finite"),
        ]),
    ]
