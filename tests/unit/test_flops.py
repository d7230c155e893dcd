"""MFU arithmetic and the measured matmul peak."""

import math

import pytest
import transformers

from alignx.training import flops
from alignx.modeling.logprobs import collate, collate_pairs
from tests.toy import ToySize

# hidden 16, 1 layer, 2 heads (head_dim 8, no GQA), intermediate 4 x 16 = 64, vocab 100:
# attention q, k, v, o 4 x 16 x 16 = 1024; MLP gate, up, down 3 x 16 x 64 = 3072; LM head 100 x 16 = 1600.
BODY, HEAD = 1024 + 3072, 100 * 16


@pytest.mark.parametrize("tie", [False, True])
def test_flops_params_count_linear_weights_once_and_the_head(tie):
    model = transformers.LlamaForCausalLM(ToySize(vocab=100, hidden=16, layers=1, heads=2, tie=tie).config())
    # The embedding lookup and the norms are not matmuls; a tied head is one (counted once).
    assert flops.flops_params(model) == BODY + HEAD
    assert flops.head_params(model) == HEAD


def test_training_flops_charge_the_head_only_at_response_predicting_positions():
    model = transformers.LlamaForCausalLM(ToySize(vocab=100, hidden=16, layers=1, heads=2).config())
    # Two rows: prompt 3 + response 2 (5 tokens) and prompt 4 + response 3 (7 tokens), padded to 7.
    batch = collate([[5, 6, 7], [5, 6, 7, 8]], [[9, 10], [11, 12, 13]], pad_id=0)
    tokens, head_tokens = flops.counted_tokens(batch)
    assert (tokens, head_tokens) == (12, 5)  # the head runs at 2 + 3 positions, not at the 12 (or 14 padded)
    step = flops.training_flops(flops.flops_params(model), tokens, flops.head_params(model), head_tokens)
    assert step == 6 * (BODY * 12 + HEAD * 5) == 342_912
    assert flops.training_flops(1_000, 10) == 60_000  # without a head split: plain 6 N per token


def test_attended_pairs_are_the_mask_entries_of_real_positions():
    prompts, chosen, rejected = [[5, 6, 7], [5, 6, 7, 8, 9]], [[9, 10], [11]], [[12], [13, 14, 15]]
    packed = collate_pairs(prompts, chosen, rejected, pad_id=0)
    real_query = packed["segment"] >= 0  # padding rows attend to themselves only so that softmax is defined
    allowed = (packed["attention_mask"][:, 0] == 0) & real_query[:, :, None]
    assert flops.attended_pairs(packed) == int(allowed.sum())
    # Row 1, prompt 3, chosen 2, rejected 1: 6 + (2 x 3 + 3) + (1 x 3 + 1) = 19, never rejected-to-chosen.
    assert flops.attended_pairs(collate_pairs(prompts[:1], chosen[:1], rejected[:1], pad_id=0)) == 19
    plain = collate(prompts, chosen, pad_id=0)  # causal rows of 5 and 6 tokens: 15 + 21
    assert flops.attended_pairs(plain) == 36


def test_attention_flops_scale_with_query_width_and_layers():
    model = transformers.LlamaForCausalLM(ToySize(vocab=100, hidden=16, layers=1, heads=2, kv_heads=1).config())
    assert flops.attention_shape(model) == (16, 1)  # grouped-query attention: scores per query head
    assert flops.attention_flops(10, 16, 1) == 12 * 16 * 10


def test_mfu_is_achieved_flops_over_the_peak():
    assert flops.mfu(3e6, peak=6e6) == pytest.approx(0.5)
    assert math.isnan(flops.mfu(1.0, peak=0.0))


def test_matmul_peak_is_measured_per_dtype():
    fp32 = flops.matmul_peak("fp32", size=256, seconds=0.05)
    assert math.isfinite(fp32) and fp32 > 1e8  # any CPU of this decade does > 0.1 GFLOP/s
    with pytest.raises(ValueError, match="dtype must be one of"):
        flops.matmul_peak("fp8")


def test_forward_flops_are_the_forward_third_of_a_training_step():
    """The scale projection's scoring FLOPs (bench/scale_projection.py) come from the trainer's one formula."""
    from alignx.training import flops as f

    assert f.forward_flops(1000, 10, 100, 4) == f.training_flops(1000, 10, 100, 4) / 3 == 2 * (900 * 10 + 100 * 4)
    assert f.attention_forward_flops(7, 64, 2) == f.attention_flops(7, 64, 2) / 3
