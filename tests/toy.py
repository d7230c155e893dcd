"""Self-contained training inputs in the pipeline's contracts: a random Llama + word-level tokenizer folder
(`models/base/` layout), formatted examples and their reference log-probs. Tests and the trainer benchmark
use them so that training can be exercised without running the data stages.

The preference signal is learnable: every chosen response ends with token `GOOD`, every rejected one with
`BAD`, so a working trainer drives reward accuracy towards 1 within a few dozen steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

SPECIAL = ["<pad>", "<eos>", "<unk>"]
PAD, EOS = 0, 1


@dataclass
class ToySize:
    """A Llama config's size knobs."""

    vocab: int = 512
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    intermediate: int = 0  # 0: 4 x hidden
    kv_heads: int = 0  # 0: heads (no grouped-query attention)
    tie: bool = False  # share the input embedding and the LM head

    def config(self):
        from transformers import LlamaConfig

        return LlamaConfig(
            vocab_size=self.vocab, hidden_size=self.hidden, intermediate_size=self.intermediate or 4 * self.hidden,
            num_hidden_layers=self.layers, num_attention_heads=self.heads, num_key_value_heads=self.kv_heads or self.heads,
            max_position_embeddings=1024, pad_token_id=PAD, eos_token_id=EOS, bos_token_id=None, tie_word_embeddings=self.tie,
        )


def write_base(out: Path, size: ToySize, seed: int = 0) -> Path:
    """A random-weight LlamaForCausalLM and a word-level tokenizer over `w0 .. w{vocab-4}`, saved as a plain
    transformers folder."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIAL + [f"w{i}" for i in range(size.vocab - len(SPECIAL))])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")
    torch.manual_seed(seed)
    model = LlamaForCausalLM(size.config())
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def make_examples(n: int, vocab: int, prompt_len: tuple[int, int], response_len: tuple[int, int], seed: int = 0) -> pd.DataFrame:
    """`n` formatted examples (the contract's id and token columns) with random lengths in the given ranges."""
    rng = np.random.default_rng(seed)
    good, bad = vocab - 1, vocab - 2
    rows = []
    for i in range(n):
        prompt = rng.integers(3, vocab - 2, rng.integers(*prompt_len)).astype(np.int32)
        chosen = np.append(rng.integers(3, vocab - 2, rng.integers(*response_len)), [good, EOS]).astype(np.int32)
        rejected = np.append(rng.integers(3, vocab - 2, rng.integers(*response_len)), [bad, EOS]).astype(np.int32)
        rows.append({"example_id": f"ex{i:06d}", "record_id": f"ex{i:06d}", "user_id": f"u{i % 97}", "split": "train",
                     "prompt_ids": prompt, "chosen_ids": chosen, "rejected_ids": rejected})
    return pd.DataFrame(rows)


def write_reference(base: Path, examples: pd.DataFrame, out: Path, batch_size: int = 16) -> Path:
    """Reference log-probs of `examples` under the model in `base` (the `reference` stage's computation)."""
    from transformers import AutoModelForCausalLM

    from alignx.modeling.logprobs import score_examples

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    chosen, rejected = score_examples(model, examples, batch_size, PAD, progress=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"example_id": examples["example_id"], "ref_chosen": chosen, "ref_rejected": rejected}).to_parquet(out)
    return out


def write_inputs(root: Path, size: ToySize, n_train: int, n_val: int = 0, prompt_len=(20, 60), response_len=(10, 40),
                 seed: int = 0, reference_seed: int | None = None) -> dict[str, str]:
    """Base model, train (and val) examples and references under `root`; returns TrainPaths-style fields
    (export and checkpoints under `root` as well). With `reference_seed` the reference log-probs come from
    another random model (saved in `root/reference_model`), so the step-0 loss is not trivially log 2."""
    base = write_base(root / "base", size, seed)
    scorer = base if reference_seed is None else write_base(root / "reference_model", size, reference_seed)
    paths = {"base": str(base), "export": str(root / "export"), "checkpoints": str(root / "checkpoints")}
    for split, n in (("train", n_train), ("val", n_val)):
        if n == 0:
            continue
        examples = make_examples(n, size.vocab, prompt_len, response_len, seed + (split == "val"))
        examples_file = root / "format" / f"{split}.parquet"
        examples_file.parent.mkdir(parents=True, exist_ok=True)
        examples.to_parquet(examples_file)
        write_reference(scorer, examples, root / "reference" / f"{split}.parquet")
        paths[f"{split}_examples"] = str(examples_file)
        paths[f"{split}_reference"] = str(root / "reference" / f"{split}.parquet")
    return paths
