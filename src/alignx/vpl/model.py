"""VPL's network and its on-disk format (safetensors weights + JSON config; nothing is pickled).

    pair embedding   h_i = MLP([e(x_i, chosen_i), e(x_i, rejected_i)])     one per context pair shown
    posterior        q(z | context) = N(mu, diag exp(logvar)),  (mu, logvar) = linear heads of mean_i h_i
    reward           r(x, y, z) = MLP([e(x, y), z])
    loss             -log sigmoid(r(x, chosen, z) - r(x, rejected, z)) + kl_weight * KL(q || N(0, I))

z is sampled with the reparameterisation trick in training and is the posterior mean at evaluation. A record
whose example shows no PAIR item has no context: its z is the prior mean 0 (and adds no KL). The paper pools the
context with attention; a mean is used here (history holds at most 4 pairs). Features e are standardised with the
train texts' mean and spread, stored with the weights.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

WEIGHTS, CONFIG = "model.safetensors", "vpl.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Shape:
    """The network's sizes: feature width (the base model's hidden size), MLP width, latent width."""

    feature_dim: int
    hidden: int
    latent: int


class VPLNet(torch.nn.Module):
    """Context pairs -> Gaussian latent user vector -> reward model conditioned on it."""

    def __init__(self, shape: Shape):
        super().__init__()
        d, h, z = shape.feature_dim, shape.hidden, shape.latent
        self.shape = shape
        self.register_buffer("feature_mean", torch.zeros(d))
        self.register_buffer("feature_std", torch.ones(d))
        self.pair = torch.nn.Sequential(torch.nn.Linear(2 * d, h), torch.nn.GELU(), torch.nn.Linear(h, h), torch.nn.GELU())
        self.mu = torch.nn.Linear(h, z)
        self.logvar = torch.nn.Linear(h, z)
        self.reward = torch.nn.Sequential(torch.nn.Linear(d + z, h), torch.nn.GELU(), torch.nn.Linear(h, 1))

    def normalise(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.feature_mean) / self.feature_std

    def encode(self, context: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) [N, latent] of context pairs [N, K, 2, D] where `mask` [N, K] is true; rows without any
        context get the prior (0, 0)."""
        n, k = mask.shape
        pairs = self.normalise(context).reshape(n, k, -1)
        h = self.pair(pairs) * mask.unsqueeze(-1)
        count = mask.sum(1, keepdim=True)
        pooled = h.sum(1) / count.clamp(min=1)
        has = (count > 0).float()
        return self.mu(pooled) * has, self.logvar(pooled) * has

    def rewards(self, features: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """r(x, y, z) [N] of text features [N, D] under latents [N, latent]."""
        return self.reward(torch.cat([self.normalise(features), z], dim=-1)).squeeze(-1)

    def forward(
        self, chosen: torch.Tensor, rejected: torch.Tensor, context: torch.Tensor, mask: torch.Tensor,
        sample: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reward of chosen, reward of rejected, KL to N(0, I) per row); z sampled when `sample`."""
        mu, logvar = self.encode(context, mask)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) * mask.any(1, keepdim=True) if sample else mu
        return self.rewards(chosen, z), self.rewards(rejected, z), kl_to_prior(mu, logvar)


def kl_to_prior(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per row (0 for the prior itself)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


def bradley_terry(chosen: torch.Tensor, rejected: torch.Tensor) -> torch.Tensor:
    """Mean Bradley-Terry negative log-likelihood of preferring `chosen`: -log sigmoid(r_c - r_r)."""
    return torch.nn.functional.softplus(rejected - chosen).mean()


def save(net: VPLNet, folder: Path, trained: dict) -> None:
    """`folder/model.safetensors` (weights and feature statistics) and `folder/vpl.json` (shape, provenance)."""
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in net.state_dict().items()}, str(folder / WEIGHTS))
    doc = {"format_version": FORMAT_VERSION, **asdict(net.shape), "trained": trained}
    (folder / CONFIG).write_text(json.dumps(doc, indent=2) + "\n")


def load(folder: Path | str) -> tuple[VPLNet, dict]:
    """(network, its JSON config) saved in `folder`; a missing file or a foreign format names the folder."""
    folder = Path(folder)
    for name in (WEIGHTS, CONFIG):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name}: not found (run `dvc repro vpl`)")
    doc = json.loads((folder / CONFIG).read_text())
    if doc.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{folder / CONFIG}: not a VPL model of this version (format {doc.get('format_version')})")
    net = VPLNet(Shape(int(doc["feature_dim"]), int(doc["hidden"]), int(doc["latent"])))
    net.load_state_dict(load_file(str(folder / WEIGHTS)))
    return net.eval(), doc
