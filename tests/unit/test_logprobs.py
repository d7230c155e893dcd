"""alignx.modeling.logprobs: the gathered-head log-probs equal the naive full-logits computation, and stay differentiable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from alignx.modeling import logprobs
from alignx.modeling.logprobs import collate, collate_pairs, pair_logprobs, score_examples, sequence_logprobs

PAD = 0


@pytest.fixture(scope="module")
def model() -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, pad_token_id=PAD,
    )
    return LlamaForCausalLM(config).eval()


def naive_logprobs(model, prompt: list[int], response: list[int]) -> float:
    """One unpadded sequence, full logits, plain loop over the response tokens."""
    ids = torch.tensor([prompt + response])
    with torch.no_grad():
        logps = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
    return sum(logps[len(prompt) + k - 1, tok].item() for k, tok in enumerate(response))


def random_rows(n: int, seed: int) -> tuple[list[list[int]], list[list[int]]]:
    rng = np.random.default_rng(seed)
    prompts = [rng.integers(1, 97, rng.integers(1, 12)).tolist() for _ in range(n)]
    responses = [rng.integers(1, 97, rng.integers(1, 8)).tolist() for _ in range(n)]
    return prompts, responses


def test_collate_pads_right_and_marks_response_tokens():
    batch = collate([[5, 6, 7], [8]], [[9], [10, 11]], pad_id=PAD)
    assert batch["input_ids"].tolist() == [[5, 6, 7, 9], [8, 10, 11, PAD]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    assert batch["response_mask"].tolist() == [[0, 0, 0, 1], [0, 1, 1, 0]]


def test_collate_rejects_an_empty_response():
    with pytest.raises(ValueError, match="row 1 has an empty response"):
        collate([[1], [2]], [[3], []], pad_id=PAD)


def test_sequence_logprobs_equal_the_full_logits_computation(model):
    prompts, responses = random_rows(6, seed=1)
    with torch.no_grad():
        got = sequence_logprobs(model, collate(prompts, responses, PAD))
    assert got.dtype == torch.float32 and got.shape == (6,)
    expected = [naive_logprobs(model, p, r) for p, r in zip(prompts, responses)]
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-4)


def test_sequence_logprobs_are_differentiable(model):
    prompts, responses = random_rows(3, seed=2)
    model.zero_grad()
    sequence_logprobs(model, collate(prompts, responses, PAD)).sum().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    assert model.get_output_embeddings().weight.grad.abs().sum() > 0
    model.zero_grad()


def test_score_examples_keeps_row_order_and_scores_both_responses(model):
    prompts, chosen = random_rows(7, seed=3)
    _, rejected = random_rows(7, seed=4)
    frame = pd.DataFrame({"prompt_ids": prompts, "chosen_ids": chosen, "rejected_ids": rejected})
    got_chosen, got_rejected = score_examples(model, frame, batch_size=3, pad_id=PAD, progress=False)
    np.testing.assert_allclose(got_chosen, [naive_logprobs(model, p, r) for p, r in zip(prompts, chosen)], atol=1e-4)
    np.testing.assert_allclose(
        got_rejected, [naive_logprobs(model, p, r) for p, r in zip(prompts, rejected)], atol=1e-4
    )
    assert model.training is False


def test_packed_pairs_equal_two_separate_sequences(model, monkeypatch):
    prompts, chosen = random_rows(5, seed=5)
    _, rejected = random_rows(5, seed=6)
    batch = collate_pairs(prompts, chosen, rejected, PAD)
    assert batch["segment"][0].tolist()[: len(prompts[0])] == [0] * len(prompts[0])
    with torch.no_grad():
        got_chosen, got_rejected = pair_logprobs(model, batch)
    np.testing.assert_allclose(got_chosen.numpy(), [naive_logprobs(model, p, r) for p, r in zip(prompts, chosen)], atol=1e-4)
    np.testing.assert_allclose(got_rejected.numpy(), [naive_logprobs(model, p, r) for p, r in zip(prompts, rejected)], atol=1e-4)
    # Architectures outside the packed list take the two-sequence path, with the same values.
    frame = pd.DataFrame({"prompt_ids": prompts, "chosen_ids": chosen, "rejected_ids": rejected})
    monkeypatch.setattr(logprobs, "PACKED_MODEL_TYPES", ())
    fallback = score_examples(model, frame, batch_size=2, pad_id=PAD, progress=False)
    np.testing.assert_allclose(fallback[0], got_chosen.numpy(), atol=1e-4)
    np.testing.assert_allclose(fallback[1], got_rejected.numpy(), atol=1e-4)
