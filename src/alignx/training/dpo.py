"""The sigmoid DPO objective and the reward metrics logged with it.

reward(y) = beta * (log pi(y | x) - log pi_ref(y | x)), log-probs summed over response tokens;
loss = -log sigmoid(reward(chosen) - reward(rejected)), averaged over the batch (Rafailov et al., 2023).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Mean sigmoid DPO loss of a batch and its detached reward statistics.

    All inputs are [B] summed response log-probs. Returns (loss, stats) where stats holds batch means of
    `rewards/chosen`, `rewards/rejected`, `rewards/margin` and `rewards/accuracy` (reward(chosen) >
    reward(rejected); a tie counts as wrong, as in the paper's alignment accuracy).
    """
    chosen = beta * (policy_chosen - ref_chosen.to(policy_chosen.dtype))
    rejected = beta * (policy_rejected - ref_rejected.to(policy_rejected.dtype))
    margin = chosen - rejected
    # logsigmoid is the numerically stable form of log(sigmoid(x)) for large |x|.
    loss = -F.logsigmoid(margin).mean()
    with torch.no_grad():
        stats = {
            "rewards/chosen": chosen.detach().mean(),
            "rewards/rejected": rejected.detach().mean(),
            "rewards/margin": margin.detach().mean(),
            "rewards/accuracy": (margin.detach() > 0).float().mean(),
        }
    return loss, stats
