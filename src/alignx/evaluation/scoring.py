"""Log-probs of formatted examples, and the variant inputs evaluation builds with `alignx.inputs.prompts`.

Variants keep the example's response token ids and change only the input: the post alone (no persona), a PBA
profile (the oracle, or one dimension's label), or a persona of k history items. Both the aligner and the base
model score every variant, so the implicit reward always compares them on the same input.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from alignx import space
from alignx.inputs import prompts
from alignx.inputs.examples import profile_labels
from alignx.modeling.logprobs import score_examples
from alignx.modeling.model import device_of

ID_COLUMNS = ["prompt_ids", "chosen_ids", "rejected_ids"]


class Scorer:
    """A causal LM that scores (prompt, chosen, rejected) id triples in batches and keeps count of its speed.

    Data-parallel evaluation (alignx.evaluation.parallel) runs the measurements twice around one launch: while
    `recording`, a call keeps its inputs and returns zeros (no model needed; no input depends on a score); once
    `answers` are set, a call returns the next answer, which the ranks scored from the same inputs with the same
    batch plan (`logprobs.batch_plan` of that call's frame: the same bits as scoring here)."""

    def __init__(self, name: str, model: torch.nn.Module | None, batch_size: int, pad_id: int, device: str = "auto",
                 progress: bool = True):
        self.name, self.model = name, model.to(device_of(device)) if model is not None else None
        self.batch_size, self.pad_id, self.progress = batch_size, pad_id, progress
        self.pairs, self.seconds = 0, 0.0
        self.recorded: list[pd.DataFrame] | None = None  # set while recording
        self.answers: list[tuple[np.ndarray, np.ndarray]] | None = None  # set while replaying

    def __call__(self, examples: pd.DataFrame, what: str) -> tuple[np.ndarray, np.ndarray]:
        """Summed response log-probs (chosen, rejected) in row order; prints pairs/s for this call."""
        if examples.empty:
            return np.zeros(0), np.zeros(0)
        if self.recorded is not None:
            self.recorded.append(examples[ID_COLUMNS].reset_index(drop=True))
            return np.zeros(len(examples)), np.zeros(len(examples))
        if self.answers is not None:
            if not self.answers:
                raise RuntimeError(f"{self.name}: more scoring calls than were recorded ({what})")
            chosen, rejected = self.answers.pop(0)
            if len(chosen) != len(examples):
                raise RuntimeError(f"{self.name}: call ({what}) has {len(examples)} rows, its recorded inputs {len(chosen)}")
            self.pairs += len(examples)
            return chosen, rejected
        if self.model is None:
            raise RuntimeError(f"{self.name}: no model loaded (a data-parallel evaluation scores in its ranks)")
        start = time.perf_counter()
        chosen, rejected = score_examples(self.model, examples, self.batch_size, self.pad_id, self.progress)
        seconds = time.perf_counter() - start
        self.pairs += len(examples)
        self.seconds += seconds
        print(f"{self.name}: scored {len(examples)} pairs ({what}) in {seconds:.1f} s, {len(examples) / seconds:.1f} pairs/s")
        return chosen, rejected


def plain_inputs(tokenizer: Any, rows: pd.DataFrame) -> pd.DataFrame:
    """The post alone (`prompts.render_plain`), with each row's own response ids."""
    ids = [prompts.encode_prompt(tokenizer, prompts.wrap_prompt(tokenizer, prompts.render_plain(post)))
           for post in rows["prompt"]]
    return pd.DataFrame({"prompt_ids": ids, "chosen_ids": list(rows["chosen_ids"]), "rejected_ids": list(rows["rejected_ids"])})


def profile_inputs(tokenizer: Any, rows: pd.DataFrame, labels: Sequence[Sequence[str]], max_len: int) -> pd.DataFrame:
    """PBA inputs with the given profile labels per row (`prompts.fit_profile`: labels dropped from the end
    when the input would not fit, the post and responses never cut). Column `n_cut` counts dropped labels."""
    out = []
    for row, row_labels in zip(rows.itertuples(index=False), labels):
        tok, _ = prompts.fit_profile(tokenizer, row_labels, row.prompt, row.chosen, row.rejected, max_len)
        out.append((tok.prompt_ids, tok.chosen_ids, tok.rejected_ids, tok.n_cut))
    return pd.DataFrame(out, columns=[*ID_COLUMNS, "n_cut"])


def history_input(
    tokenizer: Any,
    aligner: str,
    record: Mapping[str, Any],
    persona: prompts.Persona,
    max_len: int,
    thresholds: tuple[float, float],
) -> prompts.Tokenized | None:
    """The input of `record` showing exactly `persona`'s history items: ICA renders them, PBA infers and
    verbalizes their profile. None when a PBA history has no direction vectors (nothing to infer from)."""
    if aligner == "ica":
        render = lambda p: prompts.render_ica(record, p)  # noqa: E731
        return prompts.fit_persona(tokenizer, render, persona, record["chosen"], record["rejected"], max_len)
    directions = prompts.shown_directions(record, persona)
    if directions is None:
        return None
    labels = profile_labels(space.infer_profile(directions, *thresholds))
    tok, _ = prompts.fit_profile(tokenizer, labels, record["prompt"], record["chosen"], record["rejected"], max_len)
    return tok
