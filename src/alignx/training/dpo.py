"""The sigmoid DPO objective and the reward metrics logged with it.

reward(y) = beta * (log pi(y | x) - log pi_ref(y | x)) (alignx.reward), log-probs summed over response tokens;
loss = -log sigmoid(reward(chosen) - reward(rejected)), averaged over the batch (Rafailov et al., 2023),
plus, with `nll_weight` > 0, that weight times the chosen response's per-token negative log-likelihood (the
"DPO + NLL" objective of Pang et al., 2024, RPO): a dense signal on what the preferred answer looks like given
the input, where DPO alone only sees the difference of two sums.

`consistency_loss` (train.consistency) adds, for each counterfactual example x' in a micro-batch with its original
x, weight * (m(x') - m(x))^2 on the margins m = reward(chosen) - reward(rejected) as each row presents its pair: a
neutral flip keeps the pair, so its margin must equal the original's; a contrast flip swaps chosen and rejected, so
"its margin equals the original's" is the mirror m(x') = -m(x) in the original orientation. A pole (the same single
label at its other pole) is tied the same way to the counterfactual it mirrors, not to the original.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from alignx.reward import implicit_reward


def rewards(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
            ref_rejected: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """[B] implicit rewards of chosen and rejected (reference log-probs cast to the policy's dtype)."""
    return (implicit_reward(policy_chosen, ref_chosen.to(policy_chosen.dtype), beta),
            implicit_reward(policy_rejected, ref_rejected.to(policy_rejected.dtype), beta))


def consistency_loss(margin: torch.Tensor, partner: torch.Tensor, weight: torch.Tensor,
                     anchor: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The paired consistency term of a micro-batch and each row's |gap|.

    `margin` [B] the rows' reward margins, `partner` [B] the position of each row's original in the batch (-1:
    none), `weight` [B] the row's weight (its kind's). Returns (sum_j weight_j * (margin_j - margin_partner(j))^2
    / B, the per-row |margin_j - margin_partner(j)| detached, 0 where there is no partner). Divided by B like the
    DPO loss's mean, so its weight is per example. `anchor`: no gradient through the original's margin."""
    paired = partner >= 0
    target = margin[partner.clamp(min=0)]
    target = target.detach() if anchor else target
    gap = torch.where(paired, margin - target, torch.zeros_like(margin))
    loss = (weight.to(margin.dtype) * gap.square()).sum() / len(margin)
    return loss, gap.detach().abs()


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
    nll_weight: float = 0.0,
    chosen_tokens: torch.Tensor | None = None,
    targeted: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Mean sigmoid DPO loss of a batch and its detached reward statistics.

    All inputs are [B] summed response log-probs. Returns (loss, stats) where stats holds batch means of
    `rewards/chosen`, `rewards/rejected`, `rewards/margin` and `rewards/accuracy` (reward(chosen) >
    reward(rejected); a tie counts as wrong, as in the paper's alignment accuracy), and `nll` (the chosen
    response's mean per-token negative log-likelihood) when `chosen_tokens` ([B] response lengths) is given.
    `targeted` ([B] bool): rows that carry the loss (the others, e.g. a single label that says nothing about the pair,
    only the consistency term); the sum is still divided by B, so a row weighs the same in every batch.
    """
    chosen, rejected = rewards(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta)
    margin = chosen - rejected
    # logsigmoid is the numerically stable form of log(sigmoid(x)) for large |x|.
    per_row = -F.logsigmoid(margin)
    loss = per_row.mean() if targeted is None else (per_row * targeted.to(per_row.dtype)).sum() / len(per_row)
    nll = None
    if chosen_tokens is not None:
        nll = (-policy_chosen / chosen_tokens.to(policy_chosen.dtype)).mean()
        if nll_weight > 0:
            loss = loss + nll_weight * nll
    elif nll_weight > 0:
        raise ValueError("dpo_loss: nll_weight > 0 needs chosen_tokens (the chosen responses' lengths)")
    with torch.no_grad():
        stats = {
            "rewards/chosen": chosen.detach().mean(),
            "rewards/rejected": rejected.detach().mean(),
            "rewards/margin": margin.detach().mean(),
            "rewards/accuracy": (margin.detach() > 0).float().mean(),
        }
        if nll is not None:
            stats["nll"] = nll.detach()
    return loss, stats
