"""Served rows: checked, then rendered deterministically for scoring or generation (the registered pyfunc,
`alignx.evaluation.reward_model`, and the `alignx generate` command).

A served row is rendered from its content only, never from its `record_id` (which the pipeline uses to draw
which persona items an evaluation example shows): the **whole persona given** is shown (every UGC item, every
PAIR item, the DEMO text), with the template of training and evaluation (`alignx.inputs.prompts`), and an
over-long persona is cut oldest item first (then DEMO) to fit `max_len` tokens; the post and the responses are
never cut. PBA shows the row's `profile` text when it is non-empty (an explicit profile, e.g. set by a user or a
controllability probe), else the profile inferred from ALL the history items' direction vectors.

The cost of one row is bounded before anything is tokenized: `prompt` (and, for scoring, `chosen` and
`rejected`) must be non-empty strings, and every text field, and the history's text in total, must be at most
`CHARS_PER_TOKEN x max_len` characters; a bad row raises ServedInputError naming the row index and the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from alignx import space
from alignx.config import GenerateConfig
from alignx.contracts import DEMO, DIRECTION, PAIR, UGC
from alignx.inputs import prompts
from alignx.inputs.examples import given_profile_labels, profile_labels

TASKS = ("score", "generate")
# Characters allowed per token of `max_len` in one field: the byte-level tokenizer of the tiny model averages
# about 4 characters per token on this corpus; twice that still bounds a row's tokenizing cost at ~max_len.
CHARS_PER_TOKEN = 8
PERSONA_FIELDS = (UGC, PAIR, DEMO, "profile")
SCORE_COLUMNS = ("record_id", "reward_chosen", "reward_rejected", "margin", "prefers_chosen")
GENERATE_COLUMNS = ("record_id", "response", "ended", "n_tokens")


class ServedInputError(ValueError):
    """A served row cannot be rendered (the message names the row index and the field)."""


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _items(value: Any) -> list[Mapping[str, Any]]:
    if _missing(value):
        return []
    return list(value)


def history_chars(record: Mapping[str, Any]) -> int:
    """Characters of the history's text (every UGC and PAIR item's strings)."""
    total = 0
    for key in (UGC, PAIR):
        for item in _items(record.get(key)):
            total += sum(len(v) for v in dict(item).values() if isinstance(v, str))
    return total


def check_rows(frame: pd.DataFrame, task: str, max_len: int) -> list[dict[str, Any]]:
    """The rows as plain dicts, after the checks of the module docstring (ServedInputError on the first bad one)."""
    if task not in TASKS:
        raise ServedInputError(f"param task: {task!r} is not one of {TASKS}")
    required = ("prompt", "chosen", "rejected") if task == "score" else ("prompt",)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ServedInputError(f"task {task}: input lacks column(s) {missing} (has {list(frame.columns)})")
    cap = CHARS_PER_TOKEN * max_len
    rows = frame.to_dict("records")
    for i, row in enumerate(rows):
        for name in required:
            value = row.get(name)
            if _missing(value) or not isinstance(value, str) or not value.strip():
                raise ServedInputError(f"row {i}, field {name!r}: expected a non-empty string, got {value!r:.60}")
        for name in (*required, DEMO, "profile"):
            value = row.get(name)
            if isinstance(value, str) and len(value) > cap:
                raise ServedInputError(f"row {i}, field {name!r}: {len(value)} characters, more than the cap of "
                                       f"{cap} ({CHARS_PER_TOKEN} x max_len {max_len})")
        if history_chars(row) > cap:
            raise ServedInputError(f"row {i}, fields {UGC!r} + {PAIR!r}: {history_chars(row)} characters of history, "
                                   f"more than the cap of {cap}")
    return rows


def whole_persona(record: Mapping[str, Any]) -> prompts.Persona:
    """Every history item and the DEMO text of a row (oldest first, as the record lists them)."""
    demo = record.get(DEMO)
    return prompts.Persona("served", ugc=tuple(range(len(_items(record.get(UGC))))),
                           pair=tuple(range(len(_items(record.get(PAIR))))),
                           demo=isinstance(demo, str) and bool(demo.strip()))


def _clean(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record with missing persona fields as empty values (what the renderers expect)."""
    out = dict(record)
    for key in (UGC, PAIR):
        out[key] = [dict(item) for item in _items(record.get(key))]
    for key in (DEMO, "profile"):
        out[key] = "" if _missing(record.get(key)) else str(record.get(key))
    return out


def pba_labels(record: Mapping[str, Any], thresholds: tuple[float, float], row: int) -> list[str]:
    """PBA's profile labels: the given `profile`, else inferred from every history item's direction vector."""
    if record["profile"].strip():
        return given_profile_labels(record["profile"])
    persona = whole_persona(record)
    if not persona.ugc and not persona.pair:
        raise ServedInputError(f"row {row}: no persona to show: no 'profile' and no history items ({UGC!r} / {PAIR!r})")
    vectors = prompts.shown_directions(record, persona)
    # None: some item lacks a 'Preference Direction' and the model carries no direction annotator (a registered
    # PBA model fills them before rendering: alignx.annotation.apply.fill_missing in reward_model.predict).
    if vectors is None:
        raise ServedInputError(f"row {row}, field 'profile': PBA needs a profile: give one, or history items "
                               f"({UGC!r} / {PAIR!r}) that all carry a 'Preference Direction'")
    try:
        return profile_labels(space.infer_profile(vectors, *thresholds))
    except space.DirectionError as exc:
        raise ServedInputError(f"row {row}, history 'Preference Direction': {exc}") from None


def render(
    record: Mapping[str, Any], aligner: str, tokenizer: Any, max_len: int, thresholds: tuple[float, float],
    row: int = 0, chosen: str = "", rejected: str = "", response_budget: int = 0,
) -> prompts.Tokenized:
    """One served row as token ids (module docstring). Scoring passes `chosen` / `rejected`: prompt + the longer
    response fit `max_len`. Generation passes `response_budget` (max new tokens): the prompt fits
    `max_len - response_budget`."""
    record = _clean(record)
    # For generation the responses are empty (one EOS token each): the prompt then gets max_len - budget tokens.
    limit = max_len - response_budget + 1 if response_budget else max_len
    if aligner == "ica":
        render_fn = lambda p: prompts.render_ica(record, p)  # noqa: E731
        return prompts.fit_persona(tokenizer, render_fn, whole_persona(record), chosen, rejected, limit)
    labels = pba_labels(record, thresholds, row)
    tok, _ = prompts.fit_profile(tokenizer, labels, record["prompt"], chosen, rejected, limit)
    return tok


def score_inputs(rows: list[dict[str, Any]], aligner: str, tokenizer: Any, max_len: int,
                 thresholds: tuple[float, float]) -> pd.DataFrame:
    """prompt_ids / chosen_ids / rejected_ids of scoring rows (alignx.modeling.logprobs.score_examples' input)."""
    out = []
    for i, row in enumerate(rows):
        tok = render(row, aligner, tokenizer, max_len, thresholds, i, str(row["chosen"]), str(row["rejected"]))
        out.append({"prompt_ids": np.asarray(tok.prompt_ids), "chosen_ids": np.asarray(tok.chosen_ids),
                    "rejected_ids": np.asarray(tok.rejected_ids)})
    return pd.DataFrame(out, columns=["prompt_ids", "chosen_ids", "rejected_ids"])


def record_ids(frame: pd.DataFrame) -> list[str]:
    """Each row's `record_id` echoed back (the row index when absent); it never changes what a row renders."""
    if "record_id" not in frame.columns:
        return [str(i) for i in range(len(frame))]
    return [str(i) if _missing(v) else str(v) for i, v in enumerate(frame["record_id"])]


def empty_result(task: str) -> pd.DataFrame:
    """The result frame of a 0-row input: the task's columns, no rows."""
    dtypes = {"record_id": str, "reward_chosen": float, "reward_rejected": float, "margin": float,
              "prefers_chosen": bool, "response": str, "ended": bool, "n_tokens": int}
    columns = SCORE_COLUMNS if task == "score" else GENERATE_COLUMNS
    return pd.DataFrame({c: pd.Series(dtype=dtypes[c]) for c in columns})


# The pyfunc's params (mlflow ParamSchema in `signature()`): the task and the sampling settings (the `generate`
# params section's defaults: the paper's).
DEFAULT_PARAMS: dict[str, Any] = {"task": "score", **{k: getattr(GenerateConfig(), k) for k in (
    "seed", "do_sample", "temperature", "top_k", "top_p", "max_new_tokens")}}


def sampling(params: Mapping[str, Any]) -> Any:
    """The Sampling of a predict call's params (ServedInputError naming the param when out of range)."""
    from alignx.generation.decoding import Sampling

    try:
        return Sampling(temperature=float(params["temperature"]), top_k=int(params["top_k"]),
                        top_p=float(params["top_p"]), max_new_tokens=int(params["max_new_tokens"]),
                        do_sample=bool(params["do_sample"]))
    except (TypeError, ValueError) as exc:
        raise ServedInputError(f"params {dict(params)}: {exc}") from None


def input_example() -> pd.DataFrame:
    """One AlignX record with a history item of each kind (the registered model's input example)."""
    direction = [0.5] * space.N_DIMS
    direction[40], direction[61] = 1.0, 0.0
    return pd.DataFrame([{
        "prompt": "Quick question: is camping worth the money? Any thoughts?",
        "chosen": "Short answer: do it.", "rejected": "To be thorough, I will walk through the history, the reasons, "
        "the alternatives and a detailed plan.",
        UGC: [{"prompt": "Help me out: any tips for hiking?", "comment": "Bottom line: yes.",
               "Preference Direction": direction}],
        PAIR: [{"prompt": "Curious: is it weird to care this much about movies?", "chosen": "In brief: go.",
                "rejected": "Here is the long version with all the details.", "Preference Direction": direction}],
        DEMO: "I like short answers.", "profile": "",
    }])


def signature() -> Any:
    """The model signature: the input example's columns (persona fields optional) and the params of both tasks."""
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import ColSpec, Schema

    example = input_example().assign(record_id="example-1")
    output = pd.DataFrame({"record_id": ["0"], "reward_chosen": [0.0], "reward_rejected": [0.0], "margin": [0.0],
                           "prefers_chosen": [True], "response": ["text"], "ended": [True], "n_tokens": [1]})
    inferred = infer_signature(example, output, params=DEFAULT_PARAMS)
    # Only `prompt` is required by both tasks (scoring checks chosen / rejected itself, naming the row); the
    # output columns depend on the task. A history item's direction may be missing (imported benchmarks).
    optional = lambda schema, keep: Schema([ColSpec(_direction_optional(c.type), c.name, required=c.name in keep)  # noqa: E731
                                            for c in schema.inputs])
    return ModelSignature(optional(inferred.inputs, ("prompt",)), optional(inferred.outputs, ("record_id",)),
                          inferred.params)


def _direction_optional(dtype: Any) -> Any:
    """A history column's type (array of items) with each item's `Preference Direction` optional; others as is."""
    from mlflow.types.schema import Array, Object, Property

    if not (isinstance(dtype, Array) and isinstance(dtype.dtype, Object)):
        return dtype
    return Array(Object([Property(p.name, p.dtype, required=p.required and p.name != DIRECTION)
                         for p in dtype.dtype.properties]))
