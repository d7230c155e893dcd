"""A pretrained-style `hf:` base end to end in process: its chat template renders train and eval inputs alike,
LoRA DPO takes two steps, and the exported (merged) model scores pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from alignx.modeling.logprobs import score_examples
from alignx.modeling.model import build_tiny, load_hf
from alignx.modeling.tokenizer import corpus_texts, pad_id, train_tokenizer
from tests.records import record, write_pairs

# A ChatML template like SmolLM2-Instruct's.
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
TINY = dict(vocab_size=700, hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2, num_kv_heads=1,
            max_position_embeddings=1024, tie_word_embeddings=True, seed=0)


def local_hf_model(folder: Path) -> Path:
    """A small Llama with a chat template saved as a plain transformers folder (what `hf:<folder>` reads)."""
    tokenizer = train_tokenizer(corpus_texts(record(i) for i in range(32)), 700)
    tokenizer.chat_template = CHATML
    build_tiny(TINY, tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_hf_base_with_chat_template_lora_dpo_and_scoring(workdir, tmp_path):
    from flows.base import base_flow
    from flows.eval_inputs import eval_inputs_flow
    from flows.format import format_flow
    from flows.reference import reference_flow
    from flows.train import train_flow

    write_pairs(workdir, n_train=32, n_eval=6)
    params = yaml.safe_load(Path("params.yaml").read_text())
    params["base"].update(model=f"hf:{local_hf_model(tmp_path / 'hf')}", min_copy_probe=0.0, min_induction=0.0)  # untrained: reads nothing
    params["format"]["max_len"] = 512
    params["reference"].update(batch_size=8, device="cpu")
    params["train"].update(global_batch=8, micro_batch=4, max_steps=2, lr=1e-2,
                           lora={"rank": 4, "alpha": 8.0, "target_modules": ["q_proj", "v_proj"]})
    Path("params.yaml").write_text(yaml.safe_dump(params))
    for flow in (base_flow, format_flow, reference_flow):
        assert flow(return_state=True).is_completed(), flow.name
    assert eval_inputs_flow("splits", return_state=True).is_completed()
    # One template for train and evaluation: the model's own chat template.
    for path in ("data/format/pba/train.parquet", "data/eval/splits/format/pba/test.parquet"):
        assert pd.read_parquet(path)["prompt_text"].str.startswith("<|im_start|>user\n").all(), path

    state = train_flow("pba", return_state=True)
    assert state.is_completed(), state.result(raise_on_failure=False)
    # The export is merged: a plain folder that scores pairs without peft, and training moved its log-probs.
    model, tokenizer = load_hf("models/pba")
    test = pd.read_parquet("data/eval/splits/format/pba/test.parquet")
    chosen, rejected = score_examples(model, test, batch_size=4, pad_id=pad_id(tokenizer), progress=False)
    reference = pd.read_parquet("data/eval/splits/reference/pba/test.parquet").set_index("example_id").loc[test["example_id"]]
    assert np.isfinite(chosen).all() and np.isfinite(rejected).all()
    assert not np.allclose(chosen, reference["ref_chosen"].to_numpy(), atol=1e-4)
