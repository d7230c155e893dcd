"""MFU arithmetic and the measured matmul peak."""

import math

import pytest

from alignx import flops
from alignx.toy import ToySize


def test_flops_params_skip_the_embedding_lookup_but_count_a_tied_head():
    untied = ToySize(vocab=100, hidden=16, layers=1, heads=2)
    model = __import__("transformers").LlamaForCausalLM(untied.config())
    total = sum(p.numel() for p in model.parameters())
    assert flops.flops_params(model) == total - 100 * 16  # the input embedding is a lookup
    tied = __import__("transformers").LlamaForCausalLM(ToySize(vocab=100, hidden=16, layers=1, heads=2, tie=True).config())
    assert flops.flops_params(tied) == sum(p.numel() for p in tied.parameters())  # the shared matrix is the head


def test_mfu_is_six_n_per_token_over_the_peak():
    assert flops.training_flops(1_000, 10) == 60_000
    assert flops.mfu(1_000, tokens_per_second=500, peak=6e6) == pytest.approx(0.5)


def test_matmul_peak_is_measured_per_dtype():
    fp32 = flops.matmul_peak("fp32", size=256, seconds=0.05)
    assert math.isfinite(fp32) and fp32 > 1e8  # any CPU of this decade does > 0.1 GFLOP/s
    with pytest.raises(ValueError, match="dtype must be one of"):
        flops.matmul_peak("fp8")
