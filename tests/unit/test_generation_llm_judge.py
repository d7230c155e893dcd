"""The LLM judge's mechanics on a small local model: both orders read, verdicts parsed, position bias reported."""

from __future__ import annotations

import pandas as pd
import pytest

from alignx.generation import llm_judge

TEMPLATE = "src/alignx/generation/judge_prompt.txt"


@pytest.fixture(scope="module")
def judge_model():
    """A tiny random Llama with a byte-level BPE tokenizer (as the default base): " A" and " B" are distinct."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from alignx.modeling.tokenizer import pad_id, train_tokenizer

    tokenizer = train_tokenizer(["Response A is better. Response B is better. Answer: A B"] * 10, vocab_size=300)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=1024,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=pad_id(tokenizer))
    return LlamaForCausalLM(config).eval(), tokenizer


def test_prompt_template_is_versioned_and_complete(tmp_path):
    text = llm_judge.load_template(TEMPLATE)
    assert "{first}" in text and "{second}" in text
    (tmp_path / "bad.txt").write_text("{profile} {post} {first}")
    with pytest.raises(ValueError, match=r"lacks placeholder\(s\) \['\{second\}'\]"):
        llm_judge.load_template(tmp_path / "bad.txt")


def test_both_orders_and_position_bias(judge_model):
    model, tokenizer = judge_model
    rows = pd.DataFrame({"profile": ["w3 w4"] * 4, "post": ["w5 w6", "w7", "w8 w9", "w10"],
                         "ours": ["w11", "w12 w13", "w14", "w15"], "theirs": ["w16", "w17", "w18 w19", "w20"],
                         "truth": [1.0, 0.0, 0.5, 1.0]})
    out = llm_judge.compare_pairs(model, tokenizer, llm_judge.load_template(TEMPLATE), rows)
    assert out["n"] == 4 and 0 <= out["win_rate"] <= 1 and -0.5 <= out["position_bias"] <= 0.5
    # A judge that answers the same letter whatever it reads is all position bias and agrees with itself never.
    template = "{profile} {post} {first} {second}"
    same = llm_judge.compare_pairs(model, tokenizer, template, rows.assign(ours="w11", theirs="w11"))
    assert abs(same["position_bias"]) == 0.5 and same["win_rate"] == 0.5 and same["consistency"] == 0.0
    assert "agreement_with_truth" in out
    v = llm_judge.verdicts(model, tokenizer, ["w1 w2", "w3"])
    assert set(v.tolist()) <= {0, 1}
