"""The annotator's network and its on-disk format (safetensors weights + JSON config; nothing is pickled).

    score s = W2 tanh(bag W1)  (hidden > 0)   or   s = bag W  (hidden == 0: linear), one value per dimension
    logits per dimension = [-s, c_kind, s]    (negative, neutral, positive)

No bias enters `s` and tanh is odd, so s(-x) = -s(x): a PAIR item with chosen and rejected swapped (its input
negated, features.py) gets the opposite direction on every dimension, by construction. `c_kind` is a learned
per-dimension neutral logit of each item kind (UGC comments and PAIR differences differ in how often a
dimension is silent).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from alignx import space
from alignx.annotation.features import KINDS, Vocabulary, as_directions

WEIGHTS, CONFIG = "model.safetensors", "annotator.json"
FORMAT_VERSION = 1


class DirectionNet(torch.nn.Module):
    """Bag of n-grams -> per-dimension 3-way logits (antisymmetric in the input)."""

    def __init__(self, n_terms: int, hidden: int, n_dims: int = space.N_DIMS):
        super().__init__()
        self.hidden = hidden
        self.bag = torch.nn.EmbeddingBag(n_terms, hidden or n_dims, mode="sum")
        self.out = torch.nn.Linear(hidden, n_dims, bias=False) if hidden else None
        self.neutral = torch.nn.Parameter(torch.zeros(len(KINDS), n_dims))
        # Start from "no n-gram says anything": an n-gram (or dimension) that training never moves adds nothing,
        # instead of random noise. The hidden layer's input weights start small and random (it needs them to
        # differ), its output at zero.
        with torch.no_grad():
            if hidden:
                self.bag.weight.normal_(0.0, 0.1)
                self.out.weight.zero_()
            else:
                self.bag.weight.zero_()

    def forward(self, ids: torch.Tensor, weights: torch.Tensor, offsets: torch.Tensor, kinds: torch.Tensor) -> torch.Tensor:
        s = self.bag(ids, offsets, per_sample_weights=weights)
        if self.out is not None:
            s = self.out(torch.tanh(s))
        return torch.stack([-s, self.neutral[kinds], s], dim=-1)  # (n, dims, 3)


@dataclass
class Annotator:
    """A vocabulary and a trained DirectionNet: predicts the direction vectors of history items."""

    vocab: Vocabulary
    net: DirectionNet
    trained: dict = field(default_factory=dict)  # what it was trained on (items per split, epoch kept, val figures)

    def logits(self, items: pd.DataFrame, batch: int = 4096) -> torch.Tensor:
        """(n, 90, 3) logits of `items` (rows of features.history_items)."""
        self.net.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(items), batch):
                ids, weights, offsets, kinds = (torch.as_tensor(a) for a in self.vocab.encode(items.iloc[start:start + batch]))
                out.append(self.net(ids, weights, offsets, kinds))
        return torch.cat(out) if out else torch.zeros(0, space.N_DIMS, 3)

    def classes(self, items: pd.DataFrame) -> np.ndarray:
        """(n, 90) class indices: 0 negative, 1 neutral, 2 positive."""
        return self.logits(items).argmax(dim=-1).numpy()

    def predict(self, items: pd.DataFrame) -> list[list[float]]:
        """Direction vectors (0 / 0.5 / 1) of `items`."""
        return as_directions(self.classes(items))

    def config(self) -> dict:
        return {"format_version": FORMAT_VERSION, "hidden": self.net.hidden, "n_dims": space.N_DIMS,
                "kinds": list(KINDS), "max_words": self.vocab.max_words, "order": self.vocab.order, "trained": self.trained, "terms": list(self.vocab.terms)}

    def save(self, folder: Path) -> None:
        """`folder/model.safetensors` (weights) and `folder/annotator.json` (vocabulary and shape)."""
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().contiguous() for k, v in self.net.state_dict().items()}, str(folder / WEIGHTS))
        (folder / CONFIG).write_text(json.dumps(self.config()) + "\n")

    @classmethod
    def load(cls, folder: Path | str) -> "Annotator":
        """The annotator saved in `folder`; a missing file or a foreign format names the folder."""
        folder = Path(folder)
        for name in (WEIGHTS, CONFIG):
            if not (folder / name).is_file():
                raise FileNotFoundError(f"{folder / name}: not found (run `dvc repro directions`)")
        cfg = json.loads((folder / CONFIG).read_text())
        if cfg.get("format_version") != FORMAT_VERSION or cfg.get("n_dims") != space.N_DIMS or tuple(cfg.get("kinds", ())) != KINDS:
            raise ValueError(f"{folder / CONFIG}: not an annotator of this version (format {cfg.get('format_version')}, "
                             f"{cfg.get('n_dims')} dims, kinds {cfg.get('kinds')})")
        vocab = Vocabulary(tuple(cfg["terms"]), int(cfg["max_words"]), int(cfg["order"]))
        net = DirectionNet(len(vocab), int(cfg["hidden"]))
        net.load_state_dict(load_file(str(folder / WEIGHTS)))
        return cls(vocab, net.eval(), cfg.get("trained", {}))
