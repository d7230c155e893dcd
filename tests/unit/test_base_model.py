"""The base model: the corpus tokenizer, the tiny model and its warm-up, local HF folders, clear errors, and
the packaged SmolLM2."""

from __future__ import annotations

import json

import pytest
import torch

from alignx.modeling.model import ModelSpecError, build_tiny, load_base_spec, load_hf, stored_dtype
from alignx.modeling.warmup import pack, warmup
from alignx.modeling.tokenizer import corpus_texts, pad_id, train_tokenizer
from tests.records import records

TINY = {"hidden_size": 32, "intermediate_size": 64, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2,
        "max_position_embeddings": 256, "seed": 0}


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(corpus_texts(records(30)), vocab_size=600)


def test_tokenizer_covers_any_text_and_has_its_special_tokens(tokenizer):
    text = "Ünïcode ✓ and emojis 🎉 never seen in training\n\ttabs"
    assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text
    assert {tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id} == {0, 1, 2}
    assert pad_id(tokenizer) == 0 and 300 < len(tokenizer) <= 600


def test_tokenizer_corpus_holds_every_text_of_a_record():
    rec = records(1)[0]
    texts = list(corpus_texts([rec]))
    assert rec["Demographic Information"] in texts and rec["User-Generated Content"][2]["comment"] in texts
    assert rec["Pair-wise Comparative Feedback"][3]["rejected"] in texts and rec["chosen"] in texts
    assert len(texts) == 3 + 2 * 4 + 3 * 4 + 1


def test_tiny_model_warm_up_lowers_the_language_model_loss(tokenizer):
    model = build_tiny(TINY, tokenizer)
    assert model.config.vocab_size == len(tokenizer) and model.config.num_hidden_layers == 2
    docs = [tokenizer(t)["input_ids"] + [tokenizer.eos_token_id] for t in corpus_texts(records(30))]
    blocks = pack(docs, 32)
    losses = warmup(model, blocks, steps=25, batch_size=8, lr=3e-3, seed=0, progress=False)
    assert len(losses) == 25 and sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 1.0
    assert not model.training


def test_a_local_hf_folder_loads_as_the_base(tokenizer, tmp_path):
    model = build_tiny(TINY, tokenizer)
    model.save_pretrained(tmp_path / "m")
    tokenizer.save_pretrained(tmp_path / "m")
    loaded, tok = load_base_spec(f"hf:{tmp_path / 'm'}")
    assert tok.eos_token == tokenizer.eos_token
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name


def test_scoring_runs_in_the_stored_dtype(tokenizer, tmp_path):
    # base.dtype bfloat16 stores bf16 weights; the reference and the aligner are then both scored in bf16.
    model = build_tiny(TINY, tokenizer)
    model.save_pretrained(tmp_path / "fp32")
    model.to(torch.bfloat16).save_pretrained(tmp_path / "bf16")
    assert stored_dtype(tmp_path / "fp32") == torch.float32
    assert stored_dtype(tmp_path / "bf16") == torch.bfloat16
    tokenizer.save_pretrained(tmp_path / "bf16")
    loaded, _ = load_hf(tmp_path / "bf16", stored_dtype(tmp_path / "bf16"))
    assert next(loaded.parameters()).dtype == torch.bfloat16


def test_bad_model_specs_fail_with_a_clear_message(tmp_path):
    with pytest.raises(ModelSpecError, match=r"hf:/no/such/dir: no such folder; expected a local transformers causal LM"):
        load_hf("/no/such/dir")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelSpecError, match=r"empty: no config.json; expected a local transformers causal LM folder"):
        load_base_spec(f"hf:{tmp_path / 'empty'}")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken/config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    with pytest.raises(ModelSpecError, match=r"(?s)broken: could not load .*; expected a local transformers causal LM"):
        load_base_spec(f"hf:{tmp_path / 'broken'}")
    with pytest.raises(ModelSpecError, match=r"'llama-8b' is not one of 'tiny', 'smollm2', 'hf:<local folder>'"):
        load_base_spec("llama-8b")


def test_repeat_blocks_write_each_random_span_twice_in_a_row():
    from alignx.modeling.warmup import Curriculum, repeat_blocks

    cur = Curriculum(span=(5, 5), low_id=3)
    blocks = repeat_blocks(4, 40, 50, cur, torch.Generator().manual_seed(0))
    assert blocks.shape == (4, 40) and int(blocks.min()) >= 3 and int(blocks.max()) < 50
    for row in blocks:
        for start in range(0, 40, 10):
            assert torch.equal(row[start : start + 5], row[start + 5 : start + 10])
    again = repeat_blocks(4, 40, 50, cur, torch.Generator().manual_seed(0))
    assert torch.equal(blocks, again)


def test_induction_score_is_chance_for_an_untrained_model(tokenizer):
    from alignx.modeling.warmup import induction_score

    model = build_tiny(TINY, tokenizer).eval()
    assert induction_score(model, len(tokenizer), seed=0, n=4, seq_len=64, span=8) < 0.05


def test_the_curriculum_trains_on_repeated_spans_first_and_leaves_the_world_batches_alone(tokenizer):
    from alignx.modeling.warmup import Curriculum, induction_phase

    docs = [tokenizer(t)["input_ids"] + [tokenizer.eos_token_id] for t in corpus_texts(records(30))]
    blocks = pack(docs, 32)
    plain = warmup(build_tiny(TINY, tokenizer), blocks, steps=6, batch_size=4, lr=3e-3, seed=0, progress=False)
    off = build_tiny(TINY, tokenizer)
    assert induction_phase(off, Curriculum(steps=0, share=0.0), seed=0, progress=False) == []
    off = warmup(off, blocks, steps=6, batch_size=4, lr=3e-3, seed=0, progress=False,
                 curriculum=Curriculum(steps=0, share=0.0))
    assert plain == off  # the curriculum switched off is the plain warm-up, bit for bit
    cur = Curriculum(steps=3, share=0.5, span=(4, 4), batch_size=2, seq_len=16)
    model = build_tiny(TINY, tokenizer)
    first = induction_phase(model, cur, seed=0, progress=False)
    # random spans are unpredictable at first: about log(vocab) nats, far above the world text's first loss
    assert len(first) == 3
    assert min(first) > 0.9 * torch.log(torch.tensor(float(len(tokenizer)))).item() > plain[0] - 1.0
    mixed = warmup(model, blocks, steps=6, batch_size=4, lr=3e-3, seed=0, progress=False, curriculum=cur)
    assert len(mixed) == 6 and mixed != plain


def test_the_copy_probe_puts_the_chosen_response_verbatim_into_the_prompt(tokenizer):
    import numpy as np
    import pandas as pd

    from alignx.modeling.retrieval import probed

    chosen = tokenizer("Sleep in and recharge properly.", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    frame = pd.DataFrame({"prompt_ids": [np.array([tokenizer.bos_token_id, 7, 8, 9])], "chosen_ids": [np.array(chosen)],
                          "rejected_ids": [np.array([5, 6])]})
    prompt = tokenizer.decode(list(probed(frame, tokenizer)["prompt_ids"][0]))
    assert "User's comment: Sleep in and recharge properly." in prompt
    assert list(probed(frame, tokenizer)["prompt_ids"][0][-3:]) == [7, 8, 9]
