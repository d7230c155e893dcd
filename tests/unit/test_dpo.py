"""The sigmoid DPO objective against values computed by hand."""

import math

import pytest
import torch

from alignx.training.dpo import dpo_loss


def test_loss_and_rewards_match_hand_computed_values():
    # rewards: chosen 0.1*(-10+11)=0.1, 0.1*(-20+19)=-0.1; rejected 0.1*(-12+11)=-0.1, 0.1*(-18+17)=-0.1
    # margins 0.2 and 0.0 -> loss = (log(1+e^-0.2) + log 2) / 2
    loss, stats = dpo_loss(
        torch.tensor([-10.0, -20.0]), torch.tensor([-12.0, -18.0]),
        torch.tensor([-11.0, -19.0], dtype=torch.float64), torch.tensor([-11.0, -17.0], dtype=torch.float64), beta=0.1,
    )
    assert loss.item() == pytest.approx((math.log(1 + math.exp(-0.2)) + math.log(2)) / 2, rel=1e-6)
    assert stats["rewards/chosen"].item() == pytest.approx(0.0, abs=1e-6)
    assert stats["rewards/rejected"].item() == pytest.approx(-0.1, rel=1e-5)
    assert stats["rewards/margin"].item() == pytest.approx(0.1, rel=1e-5)
    assert stats["rewards/accuracy"].item() == 0.5  # the tie (margin 0) counts as wrong


def test_gradient_pushes_chosen_up_and_rejected_down():
    chosen = torch.tensor([-5.0], requires_grad=True)
    rejected = torch.tensor([-5.0], requires_grad=True)
    loss, _ = dpo_loss(chosen, rejected, torch.tensor([-5.0]), torch.tensor([-5.0]), beta=0.5)
    loss.backward()
    assert loss.item() == pytest.approx(math.log(2))
    # d/dc -log sigmoid(beta (c - r)) at margin 0 = -beta / 2
    assert chosen.grad.item() == pytest.approx(-0.25)
    assert rejected.grad.item() == pytest.approx(0.25)


def test_untargeted_rows_carry_no_loss_and_no_gradient():
    """train.consistency.neutral_dpo false: a row outside `targeted` adds nothing to the loss (still divided by the
    batch size) and gets no gradient from it."""
    chosen = torch.tensor([-5.0, -5.0], requires_grad=True)
    rejected = torch.tensor([-5.0, -3.0], requires_grad=True)
    ref = torch.tensor([-5.0, -5.0])
    loss, _ = dpo_loss(chosen, rejected, ref, ref, beta=0.5, targeted=torch.tensor([True, False]))
    loss.backward()
    assert loss.item() == pytest.approx(math.log(2) / 2)
    assert chosen.grad.tolist() == pytest.approx([-0.125, 0.0]) and rejected.grad.tolist() == pytest.approx([0.125, 0.0])


def test_nll_term_adds_the_chosen_per_token_nll_and_pulls_only_chosen():
    chosen = torch.tensor([-10.0, -30.0], requires_grad=True)
    rejected = torch.tensor([-10.0, -30.0], requires_grad=True)
    ref = torch.tensor([-10.0, -30.0])
    tokens = torch.tensor([5.0, 10.0])
    plain, stats = dpo_loss(chosen, rejected, ref, ref, beta=0.1, chosen_tokens=tokens)
    assert stats["nll"].item() == pytest.approx((10 / 5 + 30 / 10) / 2)  # reported even at weight 0
    mixed, _ = dpo_loss(chosen, rejected, ref, ref, beta=0.1, nll_weight=0.5, chosen_tokens=tokens)
    assert mixed.item() == pytest.approx(plain.item() + 0.5 * 2.5)
    mixed.backward()
    # DPO: -beta/2 per example / batch 2; NLL: -weight / tokens / batch 2 (the rejected side gets DPO's share only)
    assert chosen.grad.tolist() == pytest.approx([-0.025 - 0.05, -0.025 - 0.025])
    assert rejected.grad.tolist() == pytest.approx([0.025, 0.025])
    with pytest.raises(ValueError, match="chosen_tokens"):
        dpo_loss(chosen, rejected, ref, ref, beta=0.1, nll_weight=0.5)


def test_consistency_term_is_zero_at_weight_zero_and_for_equal_margins():
    from alignx.training.dpo import consistency_loss

    margin = torch.tensor([0.7, 1.9, -0.4], requires_grad=True)
    partner = torch.tensor([-1, 0, 0])  # rows 1 and 2 are counterfactuals of row 0
    loss, gap = consistency_loss(margin, partner, torch.zeros(3))
    loss.backward()
    assert loss.item() == 0.0 and margin.grad.abs().sum().item() == 0.0  # weight 0: nothing added, no gradient
    assert gap.tolist() == pytest.approx([0.0, 1.2, 1.1])
    equal = torch.tensor([0.5, 0.5, 0.3])
    assert consistency_loss(equal, torch.tensor([-1, 0, -1]), torch.tensor([0.0, 2.0, 0.0]))[0].item() == 0.0
    # weight * gap^2 summed over pairs, divided by the rows of the micro-batch like DPO's mean
    loss, _ = consistency_loss(torch.tensor([0.7, 1.9, -0.4]), partner, torch.tensor([0.0, 1.0, 0.5]))
    assert loss.item() == pytest.approx((1.2**2 + 0.5 * 1.1**2) / 3, rel=1e-6)


@pytest.mark.parametrize("anchor", [False, True])
def test_consistency_gradient_pulls_the_counterfactual_margin_to_the_original(anchor):
    from alignx.training.dpo import consistency_loss

    margin = torch.tensor([1.0, 3.0], requires_grad=True)  # the counterfactual's margin sits above its original's
    loss, _ = consistency_loss(margin, torch.tensor([-1, 0]), torch.tensor([0.0, 1.0]), anchor=anchor)
    loss.backward()
    assert margin.grad[1].item() == pytest.approx(2 * 2.0 / 2)  # d/dm' (m' - m)^2 / B: descent lowers m'
    assert margin.grad[0].item() == pytest.approx(0.0 if anchor else -2.0)  # anchored: the original is a fixed target


def test_the_dpo_loss_is_unchanged_by_the_shared_reward_helper():
    from alignx.training.dpo import rewards

    pc, pr = torch.tensor([-10.0, -20.0]), torch.tensor([-12.0, -18.0])
    rc, rr = torch.tensor([-11.0, -19.0], dtype=torch.float64), torch.tensor([-11.0, -17.0], dtype=torch.float64)
    chosen, rejected = rewards(pc, pr, rc, rr, 0.1)
    _, stats = dpo_loss(pc, pr, rc, rr, 0.1)
    assert torch.equal((chosen - rejected).mean(), stats["rewards/margin"])
