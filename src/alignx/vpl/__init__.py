"""VPL (variational preference learning, Poddar et al. 2024): the paper's personalized reward-model baseline.

    features    frozen base-model features of (post, response) texts, each distinct text embedded once
    contexts    the PAIR history items an eval example shows (its user's context pairs)
    model       encoder of context pairs -> Gaussian latent z -> reward r(x, y, z); safetensors + JSON format
    training    Bradley-Terry loss + a small KL to N(0, I), the epoch chosen on val

Stage `vpl` (alignx.vpl_stage) trains it on the train split and scores every eval set; `evaluate` reads the
scores as one more baseline.
"""
