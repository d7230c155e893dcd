"""The sigmoid DPO objective and the reward metrics logged with it.

reward(y) = beta * (log pi(y | x) - log pi_ref(y | x)) (alignx.reward), log-probs summed over response tokens;
loss = -log sigmoid(reward(chosen) - reward(rejected)), averaged over the batch (Rafailov et al., 2023),
plus, with `nll_weight` > 0, that weight times the chosen response's per-token negative log-likelihood (the
"DPO + NLL" objective of Pang et al., 2024, RPO): a dense signal on what the preferred answer looks like given
the input, where DPO alone only sees the difference of two sums.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from alignx.reward import implicit_reward


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
    nll_weight: float = 0.0,
    chosen_tokens: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Mean sigmoid DPO loss of a batch and its detached reward statistics.

    All inputs are [B] summed response log-probs. Returns (loss, stats) where stats holds batch means of
    `rewards/chosen`, `rewards/rejected`, `rewards/margin` and `rewards/accuracy` (reward(chosen) >
    reward(rejected); a tie counts as wrong, as in the paper's alignment accuracy), and `nll` (the chosen
    response's mean per-token negative log-likelihood) when `chosen_tokens` ([B] response lengths) is given.
    """
    chosen = implicit_reward(policy_chosen, ref_chosen.to(policy_chosen.dtype), beta)
    rejected = implicit_reward(policy_rejected, ref_rejected.to(policy_rejected.dtype), beta)
    margin = chosen - rejected
    # logsigmoid is the numerically stable form of log(sigmoid(x)) for large |x|.
    loss = -F.logsigmoid(margin).mean()
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
