"""Summed response-token log-probs: the quantity DPO and alignment accuracy are built on.

    batch = collate(prompt_ids, response_ids, pad_id)      # right-padded input_ids / attention_mask / response_mask
    logps = sequence_logprobs(model, batch)                # [B] float32, differentiable (the DPO hot path)
    chosen, rejected = score_examples(model, frame, 16, pad_id)   # no-grad scoring of formatted examples

`sequence_logprobs` runs the decoder body once and applies the LM head only at the positions that predict a
response token: with a 49k vocabulary the full [B, T, V] logits tensor dominates memory and time, while the
response is usually a fraction of the sequence. `score_examples` also runs each shared prompt once, packing
`prompt + chosen + rejected` in one row with a block attention mask (`collate_pairs` / `pair_logprobs`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm


def collate(
    prompt_ids: Sequence[Sequence[int]], response_ids: Sequence[Sequence[int]], pad_id: int, width: int = 0
) -> dict[str, torch.Tensor]:
    """Right-padded `input_ids` [B, T] (prompt + response), `attention_mask` [B, T] and `response_mask` [B, T]
    (1 where the token is a response token). T is the longest row, or `width` when that is larger."""
    if len(prompt_ids) != len(response_ids):
        raise ValueError(f"collate: {len(prompt_ids)} prompts but {len(response_ids)} responses")
    if not len(prompt_ids):
        raise ValueError("collate: empty batch")
    lengths = [len(p) + len(r) for p, r in zip(prompt_ids, response_ids)]
    batch, width = len(lengths), max(max(lengths), width)
    input_ids = torch.full((batch, width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((batch, width), dtype=torch.long)
    response_mask = torch.zeros((batch, width), dtype=torch.long)
    for i, (prompt, response) in enumerate(zip(prompt_ids, response_ids)):
        if len(response) == 0:
            raise ValueError(f"collate: row {i} has an empty response")
        n_prompt, n = len(prompt), lengths[i]
        input_ids[i, :n] = torch.as_tensor(np.concatenate([np.asarray(prompt), np.asarray(response)]), dtype=torch.long)
        attention_mask[i, :n] = 1
        response_mask[i, n_prompt:n] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "response_mask": response_mask}


# Architectures whose decoder is known to use a custom 4D additive attention mask and position ids as given
# (tests/unit/test_logprobs.py; tiny, SmolLM2 and Llama-3 are all `llama`). Others (sliding-window attention,
# logit post-processing, ...) score chosen and rejected as two plain sequences.
PACKED_MODEL_TYPES = ("llama",)


def _decoder_and_head(model: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The model's decoder body and LM head (transformers causal LMs expose both)."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else getattr(model, "model", None)
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if decoder is None or head is None:
        raise TypeError(f"{type(model).__name__}: expected a transformers causal LM with a decoder and an LM head")
    return decoder, head


def packs_pairs(model: torch.nn.Module) -> bool:
    """True when chosen and rejected can share one prompt pass (`collate_pairs` / `pair_logprobs`): the model
    takes custom 4D masks and position ids as given, and its logits are plain head outputs."""
    return _plain_head(model) and getattr(getattr(model, "config", None), "model_type", "") in PACKED_MODEL_TYPES


def _plain_head(model: torch.nn.Module) -> bool:
    """True when logits are exactly head(hidden); models that post-process logits (soft-capping, scaling)
    take the full-logits path so that their values stay exact."""
    config = getattr(model, "config", None)
    return not any(getattr(config, k, None) for k in ("final_logit_softcapping", "logit_scale", "logits_scaling"))


def sequence_logprobs(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """[B] float32: the sum over response tokens of log p(token | prefix). Differentiable."""
    input_ids, attention_mask = batch["input_ids"], batch["attention_mask"]
    # Position t predicts token t + 1: the predicting positions are the response mask shifted left by one.
    predicts = batch["response_mask"][:, 1:].bool()
    targets = input_ids[:, 1:][predicts]  # [N]
    rows = torch.arange(input_ids.shape[0], device=input_ids.device)[:, None].expand_as(predicts)[predicts]
    if _plain_head(model):
        decoder, head = _decoder_and_head(model)
        hidden = decoder(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
        logits = head(hidden[:, :-1][predicts])  # [N, V]: only the positions that predict response tokens
    else:
        logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits[:, :-1][predicts]
    token_logps = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets[:, None]).squeeze(-1)
    out = torch.zeros(input_ids.shape[0], dtype=torch.float32, device=token_logps.device)
    return out.index_add(0, rows, token_logps)


def collate_pairs(
    prompt_ids: Sequence[Sequence[int]], chosen_ids: Sequence[Sequence[int]], rejected_ids: Sequence[Sequence[int]],
    pad_id: int, width: int = 0,
) -> dict[str, torch.Tensor]:
    """One packed row per example, `prompt + chosen + rejected`, that scores both responses in one pass while
    running the shared prompt once: the rejected tokens attend to the prompt and to themselves, never to the
    chosen ones, and their positions restart after the prompt (so each response sees exactly `prompt + itself`).
    Rows are padded to the longest, or to `width` when that is larger.

    Returns `input_ids`, `position_ids`, a 4D additive `attention_mask` [B, 1, T, T], and `segment` [B, T]
    (0 prompt, 1 chosen, 2 rejected, -1 padding)."""
    rows = list(zip(prompt_ids, chosen_ids, rejected_ids))
    width = max(max(len(p) + len(c) + len(r) for p, c, r in rows), width)
    batch = len(rows)
    input_ids = torch.full((batch, width), pad_id, dtype=torch.long)
    position_ids = torch.zeros((batch, width), dtype=torch.long)
    segment = torch.full((batch, width), -1, dtype=torch.long)
    for i, (p, c, r) in enumerate(rows):
        if len(p) == 0 or len(c) == 0 or len(r) == 0:
            raise ValueError(f"collate_pairs: row {i} has an empty prompt or response")
        n_p, n_c, n = len(p), len(c), len(p) + len(c) + len(r)
        row = np.concatenate([np.asarray(p), np.asarray(c), np.asarray(r)])
        input_ids[i, :n] = torch.as_tensor(row, dtype=torch.long)
        position_ids[i, :n] = torch.cat([torch.arange(n_p + n_c), torch.arange(n_p, n_p + len(r))])
        segment[i, :n_p], segment[i, n_p : n_p + n_c], segment[i, n_p + n_c : n] = 0, 1, 2
    q, k = segment[:, :, None], segment[:, None, :]
    causal = torch.ones(width, width, dtype=torch.bool).tril()
    allowed = causal & (k != -1) & ((k == 0) | (k == q))
    allowed |= torch.eye(width, dtype=torch.bool)  # padding rows attend to themselves: no empty softmax row
    mask = torch.zeros((batch, 1, width, width), dtype=torch.float32)
    mask = mask.masked_fill(~allowed[:, None], torch.finfo(torch.float32).min)
    return {"input_ids": input_ids, "position_ids": position_ids, "attention_mask": mask, "segment": segment}


def pair_logprobs(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """([B], [B]) float32 summed log-probs of the chosen and rejected responses of a `collate_pairs` batch."""
    input_ids, segment = batch["input_ids"], batch["segment"]
    decoder, head = _decoder_and_head(model)
    mask = batch["attention_mask"].to(next(model.parameters()).dtype)
    hidden = decoder(
        input_ids=input_ids, position_ids=batch["position_ids"], attention_mask=mask, use_cache=False
    ).last_hidden_state
    # A response token is predicted by the previous token of its own stream: the one before it, or, for the
    # first token of either response, the last prompt token.
    is_target = segment > 0
    prev = torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids) - 1
    first = is_target & (segment != torch.nn.functional.pad(segment[:, :-1], (1, 0), value=-1))
    n_prompt = (segment == 0).sum(1, keepdim=True)
    prev = torch.where(first, (n_prompt - 1).expand_as(prev), prev)
    rows = torch.arange(input_ids.shape[0], device=input_ids.device)[:, None].expand_as(input_ids)
    logits = head(hidden[rows[is_target], prev[is_target]])
    token_logps = torch.log_softmax(logits.float(), -1).gather(-1, input_ids[is_target][:, None]).squeeze(-1)
    # Sum per (row, response): slot 2 * row + (segment - 1).
    slots = 2 * rows[is_target] + segment[is_target] - 1
    sums = torch.zeros(2 * input_ids.shape[0], dtype=torch.float32, device=token_logps.device)
    sums = sums.index_add(0, slots, token_logps)
    return sums[0::2], sums[1::2]


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def batch_plan(examples: pd.DataFrame, batch_size: int) -> list[np.ndarray]:
    """The batches `score_examples` runs, in order: row positions sorted longest first (stable), cut every
    `batch_size`. A row's log-probs depend on the padded width of its batch in the last bits (the kernels'
    reduction order), never on the other rows of a batch of that width: scoring a subset of a planned batch padded
    to the whole batch's width (`score_batches`) gives the same bits as scoring the whole batch."""
    for column in ("prompt_ids", "chosen_ids", "rejected_ids"):
        if column not in examples:
            raise KeyError(f"score_examples: the examples frame has no column {column!r}")
    if batch_size < 1:
        raise ValueError(f"score_examples: batch_size must be >= 1, got {batch_size}")
    lengths = [len(p) + max(len(c), len(r)) for p, c, r in
               zip(examples["prompt_ids"], examples["chosen_ids"], examples["rejected_ids"])]
    order = np.argsort(lengths, kind="stable")[::-1]  # longest first: an out-of-memory shows up at once
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def score_batches(
    model: torch.nn.Module, examples: pd.DataFrame, batches: Sequence[np.ndarray], pad_id: int,
    wanted: np.ndarray | None = None, progress: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, chosen_logps, rejected_logps): the rows of `batches` (a `batch_plan`, or a shard of one) that
    `wanted` (a boolean mask over the frame's rows; None: all) keeps, scored as float64. Each batch is padded to
    the width of the whole planned batch, so a row's values are the same bits whichever rows are kept and
    whichever process scores the batch. Chosen and rejected go through ONE forward pass, packed as
    `prompt + chosen + rejected` rows (`collate_pairs`) where the model allows it."""
    prompts = examples["prompt_ids"].tolist()
    chosen = examples["chosen_ids"].tolist()
    rejected = examples["rejected_ids"].tolist()
    device = _device(model)
    # The shared-prompt packing needs custom 4D masks and plain head logits (the Llama family, SmolLM2, ...).
    packed = packs_pairs(model)
    rows_out, chosen_out, rejected_out = [], [], []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for planned in tqdm(batches, desc="log-probs", unit="batch", disable=not progress):
                idx = planned if wanted is None else planned[wanted[planned]]
                if not len(idx):
                    continue
                if packed:
                    width = max(len(prompts[i]) + len(chosen[i]) + len(rejected[i]) for i in planned)
                    p, c, r = [prompts[i] for i in idx], [chosen[i] for i in idx], [rejected[i] for i in idx]
                    batch = collate_pairs(p, c, r, pad_id, width)
                    lc, lr = pair_logprobs(model, {k: v.to(device) for k, v in batch.items()})
                    lc, lr = lc.double().cpu().numpy(), lr.double().cpu().numpy()
                else:
                    width = max(len(prompts[i]) + max(len(chosen[i]), len(rejected[i])) for i in planned)
                    p, c, r = [prompts[i] for i in idx], [chosen[i] for i in idx], [rejected[i] for i in idx]
                    batch = collate(p * 2, c + r, pad_id, width)
                    logps = sequence_logprobs(model, {k: v.to(device) for k, v in batch.items()}).double().cpu().numpy()
                    lc, lr = logps[: len(idx)], logps[len(idx) :]
                rows_out.append(np.asarray(idx, dtype=np.int64))
                chosen_out.append(lc)
                rejected_out.append(lr)
    finally:
        model.train(was_training)
    if not rows_out:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    return np.concatenate(rows_out), np.concatenate(chosen_out), np.concatenate(rejected_out)


def score_examples(
    model: torch.nn.Module, examples: pd.DataFrame, batch_size: int, pad_id: int, progress: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(chosen_logps, rejected_logps) as float64 arrays in the frame's row order, for a formatted-examples frame
    (`prompt_ids`, `chosen_ids`, `rejected_ids`): every row of `batch_plan(examples, batch_size)` (rows batched
    by length, so little compute is spent on padding) through `score_batches`."""
    rows, chosen, rejected = score_batches(model, examples, batch_plan(examples, batch_size), pad_id, progress=progress)
    chosen_out, rejected_out = np.zeros(len(examples), dtype=np.float64), np.zeros(len(examples), dtype=np.float64)
    chosen_out[rows], rejected_out[rows] = chosen, rejected
    return chosen_out, rejected_out
