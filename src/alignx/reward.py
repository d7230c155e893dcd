"""DPO's implicit reward, the one formula training, evaluation and the registered model score pairs with.

    r(y) = beta * (log pi(y | x) - log pi_ref(y | x))      log-probs summed over the response tokens of y

A pair is preferred as the data says when r(chosen) > r(rejected) strictly. Pure arithmetic: floats, numpy
arrays, pandas Series and torch tensors alike.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def implicit_reward(policy_logp: T, reference_logp: T, beta: float) -> T:
    """beta * (policy_logp - reference_logp), elementwise."""
    return beta * (policy_logp - reference_logp)
