"""An LLM judge for data without known preferences: pairwise, both orders, position bias reported.

    verdicts = compare_pairs(model, tokenizer, template, rows)   # rows: profile, post, ours, theirs

The prompt template is a text file versioned in the repository (`generate.judge.prompt`, placeholders
{profile}, {post}, {first}, {second}). Each comparison is read twice, with the aligner's response first and then
second. The verdict is the answer letter with the higher log-probability after the prompt (" A" against " B"):
a constrained choice, so every verdict parses, whatever the judge's size. Per comparison: 1 when the aligner's
response wins in both orders, 0.5 when the orders disagree, 0 otherwise. Position bias: the share of verdicts
that pick the response shown first, minus 0.5 (0: no bias; +0.5: always the first).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from alignx import space
from alignx.inputs import prompts
from alignx.modeling.logprobs import collate, sequence_logprobs
from alignx.modeling.tokenizer import pad_id

ANSWERS = (" A", " B")


def load_template(path: str | Path) -> str:
    """The pairwise prompt; every placeholder must be present (a clear error naming the file otherwise)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"generate.judge.prompt: {path}: no such file")
    text = path.read_text()
    missing = [k for k in ("{profile}", "{post}", "{first}", "{second}") if k not in text]
    if missing:
        raise ValueError(f"generate.judge.prompt: {path} lacks placeholder(s) {missing}")
    return text


def verdicts(model: Any, tokenizer: Any, texts: list[str], batch_size: int = 8) -> np.ndarray:
    """For each judge prompt, 0 when the judge answers A, 1 when it answers B (higher log-prob of the letter)."""
    answers = [tokenizer(a, add_special_tokens=False)["input_ids"] for a in ANSWERS]
    if answers[0] == answers[1]:
        raise ValueError(f"LLM judge: its tokenizer encodes {ANSWERS[0]!r} and {ANSWERS[1]!r} alike ({answers[0]}); "
                         "it cannot give a verdict")
    device = next(model.parameters()).device
    out = np.zeros(len(texts), dtype=np.int64)
    model.eval()
    with torch.no_grad():
        for first in range(0, len(texts), batch_size):
            chunk = texts[first : first + batch_size]
            ids = [prompts.encode_prompt(tokenizer, prompts.wrap_prompt(tokenizer, t)) for t in chunk]
            batch = collate([*ids, *ids], [answers[0]] * len(ids) + [answers[1]] * len(ids), pad_id(tokenizer))
            logps = sequence_logprobs(model, {k: v.to(device) for k, v in batch.items()}).cpu().numpy()
            out[first : first + len(chunk)] = (logps[len(chunk) :] > logps[: len(chunk)]).astype(np.int64)
    return out


def compare_pairs(model: Any, tokenizer: Any, template: str, rows: pd.DataFrame) -> dict[str, float]:
    """Win rate of `ours` over `theirs` on `rows` (profile, post, ours, theirs; optional `truth`: the known-truth
    outcome 1 / 0.5 / 0), both orders, with the position bias and the agreement with the known truth."""
    if rows.empty:
        return {"win_rate": float("nan"), "position_bias": float("nan"), "consistency": float("nan"), "n": 0}
    fill = lambda r, a, b: template.format(profile=r.profile, post=r.post, first=a, second=b)  # noqa: E731
    ours_first = [fill(r, r.ours, r.theirs) for r in rows.itertuples()]
    ours_second = [fill(r, r.theirs, r.ours) for r in rows.itertuples()]
    v1, v2 = verdicts(model, tokenizer, ours_first), verdicts(model, tokenizer, ours_second)
    win1, win2 = v1 == 0, v2 == 1  # the aligner's response picked in each order
    score = (win1.astype(float) + win2.astype(float)) / 2
    out = {"win_rate": float(score.mean()), "position_bias": float(np.mean(np.concatenate([v1, v2]) == 0) - 0.5),
           "consistency": float((win1 == win2).mean()), "n": int(len(rows))}
    if "truth" in rows:
        decided = rows["truth"].to_numpy() != 0.5
        if decided.any():
            out["agreement_with_truth"] = float((np.round(score[decided]) == rows["truth"].to_numpy()[decided]).mean())
    return out


def judge_generations(cfg: Any, generations: pd.DataFrame, sets: dict[str, pd.DataFrame], device: Any) -> dict[str, Any]:
    """The LLM judge (`generate.judge`) on the aligner against each baseline, over the test and novel sets."""
    from alignx.generation.experiment import BASELINES
    from alignx.generation.judge import compare
    from alignx.modeling.model import load_hf

    if not cfg.model.startswith("hf:"):
        raise ValueError(f"generate.judge.model: expected hf:<local folder> or \"\", got {cfg.model!r}")
    model, tokenizer = load_hf(cfg.model[3:])
    model = model.to(device)
    template = load_template(cfg.prompt)
    records = pd.concat(sets.values(), ignore_index=True).drop_duplicates("record_id").set_index("record_id")
    main = generations[generations["set"].isin(list(sets))]
    ours = main[main["system"] == "aligner"].set_index("record_id")
    out: dict[str, Any] = {}
    for baseline in BASELINES:
        theirs = main[main["system"] == baseline].set_index("record_id")
        ids = [i for i in ours.index if i in theirs.index]
        if cfg.max_pairs:
            ids = ids[: cfg.max_pairs]
        rows = pd.DataFrame({
            "profile": [_profile(records.loc[i]) for i in ids], "post": [records.loc[i, "prompt"] for i in ids],
            "ours": [ours.loc[i, "response"] for i in ids], "theirs": [theirs.loc[i, "response"] for i in ids],
            "truth": [0.5 if np.isnan(ours.loc[i, "utility"]) or np.isnan(theirs.loc[i, "utility"])
                      else compare(ours.loc[i, "utility"], theirs.loc[i, "utility"]) for i in ids],
        })
        out[f"vs_{baseline}"] = compare_pairs(model, tokenizer, template, rows)
    return out


def _profile(record: pd.Series) -> str:
    """The preferences the judge is told: the user's true vector when known, else the profile the example shows."""
    for key in ("user_direction", "shown_profile"):
        value = record.get(key)
        if value is not None and not (isinstance(value, float) and np.isnan(value)):
            return space.verbalize(value) or "no stated preferences"
    return str(record.get("profile") or "") or "no stated preferences"
