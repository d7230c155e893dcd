"""Frozen base-model features of (post, response) texts: the mean of the last hidden state over the response
tokens, with the post before them as the model reads it (`prompts.render_plain`, the no-persona input). VPL's
reward model and its encoder both read these (the paper embeds texts with the frozen LLM the same way).

A text is keyed by its (post, response) strings and embedded once, however many records or history items show it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from alignx.inputs import prompts
from alignx.modeling.logprobs import collate

Text = tuple[str, str]  # (post, response)


class FeatureTable:
    """Distinct (post, response) texts and their feature rows."""

    def __init__(self, keys: Sequence[Text], features: np.ndarray):
        if len(keys) != len(features):
            raise ValueError(f"FeatureTable: {len(keys)} keys but {len(features)} feature rows")
        self.index = {k: i for i, k in enumerate(keys)}
        self.features = features

    @property
    def dim(self) -> int:
        return int(self.features.shape[1])

    def rows(self, keys: Iterable[Text]) -> np.ndarray:
        """Row indices of `keys` (a key never embedded names itself)."""
        out = []
        for key in keys:
            if key not in self.index:
                raise KeyError(f"VPL features: text not embedded: post {key[0][:60]!r}, response {key[1][:60]!r}")
            out.append(self.index[key])
        return np.asarray(out, dtype=np.int64)


def text_ids(tokenizer: Any, post: str, response: str, max_tokens: int) -> tuple[list[int], list[int]]:
    """(prompt ids, response ids) of one text; a longer one keeps the response's first `max_tokens` tokens and the
    end of the prompt (its most recent words) in what is left."""
    prompt = prompts.encode_prompt(tokenizer, prompts.wrap_prompt(tokenizer, prompts.render_plain(post)))
    response_ids = prompts.encode_response(tokenizer, response)[:max_tokens]
    keep = max(0, max_tokens - len(response_ids))
    return (prompt[-keep:] if keep else []), response_ids


def embed(
    model: torch.nn.Module, tokenizer: Any, texts: Sequence[Text], batch_size: int, max_tokens: int,
    pad_id: int, progress: bool = True,
) -> FeatureTable:
    """Features of every distinct text in `texts` (float32, one row each), batched by length."""
    keys = list(dict.fromkeys(texts))
    ids = [text_ids(tokenizer, post, response, max_tokens) for post, response in keys]
    dim = int(model.config.hidden_size)
    out = np.zeros((len(keys), dim), dtype=np.float32)
    order = np.argsort([len(p) + len(r) for p, r in ids], kind="stable")[::-1]
    decoder = model.get_decoder()
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for start in tqdm(range(0, len(keys), batch_size), desc="VPL text features", unit="batch",
                              disable=not progress):
                idx = order[start:start + batch_size]
                batch = collate([ids[i][0] for i in idx], [ids[i][1] for i in idx], pad_id)
                hidden = decoder(input_ids=batch["input_ids"].to(device),
                                 attention_mask=batch["attention_mask"].to(device)).last_hidden_state.float()
                mask = batch["response_mask"].to(device).unsqueeze(-1).float()
                out[idx] = ((hidden * mask).sum(1) / mask.sum(1)).cpu().numpy()
    finally:
        model.train(was_training)
    return FeatureTable(keys, out)
