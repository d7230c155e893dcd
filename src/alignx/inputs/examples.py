"""Formatted ICA / PBA examples from AlignX records (the `format` stage's rows, docs/architecture.md contract).

A record that cannot become a valid example (no persona to show, no profile source) still yields a row whose
`problem` names what is wrong: the format gate rejects it with that message instead of the stage crashing on
the first bad record, so one run lists every offending record.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from alignx import space
from alignx.config import FormatConfig, SpaceConfig
from alignx.contracts import ALIGNERS
from alignx.inputs import counterfactual
from alignx.inputs.prompts import (
    DIRECTION,
    FormatError,
    Persona,
    fit_persona,
    fit_profile,
    record_rng,
    render_ica,
    sample_persona,
    shown_directions,
)

# Contract columns of data/format/{ica,pba}/<split>.parquet, in order.
COLUMNS = (
    "example_id", "record_id", "user_id", "split", "mode", "n_ugc", "n_pair", "has_demo", "n_cut", "profile",
    "direction", "shown_profile", "prompt_text", "prompt_ids", "chosen_ids", "rejected_ids",
)  # fmt: skip

_IDS = pa.list_(pa.int32())
SCHEMA = pa.schema(
    [(c, pa.string()) for c in ("example_id", "record_id", "user_id", "split", "mode")]
    + [("n_ugc", pa.int32()), ("n_pair", pa.int32()), ("has_demo", pa.bool_()), ("n_cut", pa.int32())]
    + [("profile", pa.string()), ("direction", pa.list_(pa.float64())), ("shown_profile", pa.list_(pa.float64()))]
    + [("prompt_text", pa.string())]
    + [("prompt_ids", _IDS), ("chosen_ids", _IDS), ("rejected_ids", _IDS)]
)
# PBA's files add `counterfactual`: "" for an example as formatted, else the kind of counterfactual profile it shows
# (alignx.inputs.counterfactual; PBA train only). ICA's files keep the columns above.
PBA_COLUMNS = (*COLUMNS, "counterfactual")
PBA_SCHEMA = SCHEMA.append(pa.field("counterfactual", pa.string()))


def columns(aligner: str) -> tuple[str, ...]:
    """The contract columns of an aligner's formatted files."""
    return PBA_COLUMNS if aligner == "pba" else COLUMNS


def schema(aligner: str) -> pa.Schema:
    """The arrow schema of an aligner's formatted files."""
    return PBA_SCHEMA if aligner == "pba" else SCHEMA


def profile_labels(vector: Sequence[float]) -> list[str]:
    """The labels of a profile vector's non-neutral dimensions in index order (`space.verbalize`, unjoined)."""
    values = space.validate_direction(vector, where="profile")
    return [d.positive if v == space.POSITIVE else d.negative for d, v in zip(space.DIMENSIONS, values) if v != 0.5]


def given_profile_labels(text: str) -> list[str]:
    """A benchmark's given profile text as labels (whole text as one label if it is not in the space's labels)."""
    try:
        return profile_labels(space.parse_profile(text))
    except space.DirectionError:
        return [text.strip()]


def _direction(record: Mapping[str, Any]) -> list[float] | None:
    vector = record.get(DIRECTION)
    return None if vector is None else [float(v) for v in vector]


def _judged_vector(
    record: Mapping[str, Any], vectors: list[Sequence[float]] | None, fmt: FormatConfig, spc: SpaceConfig
) -> list[float]:
    """PBA train profile from the preference the pair was judged by (the record's own direction vector); for
    `corrected`, written over the profile inferred from the history shown, whose other labels must then not
    move the choice."""
    vector = space.validate_direction(_direction(record) or [])
    if fmt.pba_train_profile == "corrected" and vectors is not None:
        inferred = space.infer_profile(vectors, spc.positive_threshold, spc.negative_threshold)
        vector = [v if v != space.NEUTRAL else i for v, i in zip(vector, inferred)]
    return vector


def _pba_profile(
    record: Mapping[str, Any], persona: Persona, vectors: list[Sequence[float]] | None, rng: np.random.Generator,
    fmt: FormatConfig, spc: SpaceConfig, problem: str,
) -> tuple[Persona, list[str], list[float] | None, str]:
    """PBA's profile labels for a record: judged (train, `pba_train_profile` oracle / corrected), inferred from the
    history shown, or the benchmark's given profile; returns (persona shown, labels, the labels' profile vector
    (None for a given profile text), problem)."""
    rid = str(record["record_id"])
    given = str(record.get("profile") or "").strip()
    labels, vector = [], None
    if fmt.pba_train_profile != "inferred" and str(record["split"]) == "train":
        if fmt.pba_train_profile == "oracle" or vectors is None:
            persona = Persona("oracle")  # no history is shown (none is needed)
        try:
            vector = _judged_vector(record, vectors, fmt, spc)
            labels, problem = profile_labels(vector), ""
        except space.DirectionError as exc:
            problem = f"record {rid!r}: {fmt.pba_train_profile} PBA profile: {exc}"
        if labels and rng.random() < fmt.pba_one_label_share:
            pair = space.validate_direction(_direction(record) or [])  # the dimensions the pair contrasts
            dims = [i for i, v in enumerate(pair) if v != space.NEUTRAL]
            if dims:
                dim = dims[rng.integers(len(dims))]
                vector = [pair[i] if i == dim else space.NEUTRAL for i in range(space.N_DIMS)]
                labels = profile_labels(vector)
    elif vectors is not None:
        try:
            vector = space.infer_profile(vectors, spc.positive_threshold, spc.negative_threshold)
            labels = profile_labels(vector)
        except space.DirectionError as exc:
            problem = f"record {rid!r}: {exc}"
    elif given:
        labels = given_profile_labels(given)
        if persona.mode == "none":
            persona, problem = Persona("profile"), ""  # a benchmark with a profile and no history at all
    else:
        problem = problem or (
            f"record {rid!r}: PBA needs a profile, but the history items shown have no "
            f"'{DIRECTION}' and the record's 'profile' is empty"
        )
    return persona, labels, vector, problem


def format_record(
    record: Mapping[str, Any], aligner: str, tokenizer: Any, fmt: FormatConfig, spc: SpaceConfig
) -> dict[str, Any]:
    """One contract row (plus gate columns `problem` and lengths) for one record and one aligner, rendered with
    the `format` params section `fmt` and PBA's thresholds from the `space` section `spc`."""
    return format_rows(record, aligner, tokenizer, fmt, spc)[0]


def format_rows(
    record: Mapping[str, Any], aligner: str, tokenizer: Any, fmt: FormatConfig, spc: SpaceConfig
) -> list[dict[str, Any]]:
    """The record's example (`format_record`), then for a PBA train record its counterfactual examples
    (`format.counterfactual`; alignx.inputs.counterfactual), each rendered like the example itself."""
    rid = str(record["record_id"])
    # Each aligner draws from its own stream keyed by the record, so results do not depend on chunking.
    rng = record_rng(fmt.seed, aligner, rid)
    problem = ""
    try:
        persona = sample_persona(record, rng, fmt.modes, allow_demo=aligner == "ica")
    except FormatError as exc:
        persona, problem = Persona("none"), str(exc)
    chosen, rejected, post = str(record["chosen"]), str(record["rejected"]), str(record["prompt"])
    profile = ""
    if aligner == "ica":
        example = fit_persona(tokenizer, lambda p: render_ica(record, p), persona, chosen, rejected, fmt.max_len)
        shown = example.persona
        vectors = shown_directions(record, shown)
    else:
        vectors = shown_directions(record, persona)
        persona, labels, vector, problem = _pba_profile(record, persona, vectors, rng, fmt, spc, problem)
        example, profile = fit_profile(tokenizer, labels, post, chosen, rejected, fmt.max_len)
        # Like ICA's history, the profile may be cut away entirely when post + response nearly fill max_len;
        # n_cut records it. Only a post + response that alone exceed max_len is rejected (by length).
        shown = persona
    shown_profile = None
    if vectors is not None and persona.mode != "oracle":
        try:
            shown_profile = space.infer_profile(vectors, spc.positive_threshold, spc.negative_threshold)
        except space.DirectionError:
            shown_profile = None  # the problem is already reported for PBA; ICA shows the text regardless
    row = _row(record, persona.mode, shown, example, profile, shown_profile, problem)
    if aligner == "ica":
        return [row]
    rows = [row | {"counterfactual": ""}]
    if str(record["split"]) == "train" and vector is not None and not problem and _direction(record) is not None:
        cf_rng = record_rng(fmt.counterfactual.seed, "counterfactual", rid)  # apart from the persona draws above
        made = counterfactual.draw(_direction(record), vector, _shares(fmt), cf_rng, fmt.counterfactual.labels,
                                   fmt.counterfactual.poles)
        kept = {""}  # a pole is written only beside the counterfactual it mirrors
        for cf in made:
            first, second = (rejected, chosen) if cf.swap else (chosen, rejected)
            cf_example, cf_profile = fit_profile(tokenizer, profile_labels(cf.profile), post, first, second, fmt.max_len)
            # A label cut to fit could change what the profile favours: left out, never shown wrong (and so is
            # the pole that would mirror it).
            if cf_example.n_cut or counterfactual.MIRRORS.get(cf.kind, "") not in kept:
                continue
            kept.add(cf.kind)
            cf_row = _row(record, persona.mode, shown, cf_example, cf_profile, shown_profile, "", cf.direction)
            rows.append(cf_row | {"example_id": counterfactual.example_id(rid, cf.kind), "counterfactual": cf.kind})
    return rows


def _shares(fmt: FormatConfig) -> dict[str, float]:
    """Share of PBA train records per counterfactual kind (params format.counterfactual)."""
    return {counterfactual.NEUTRAL_FLIP: fmt.counterfactual.neutral, counterfactual.CONTRAST_FLIP: fmt.counterfactual.contrast}


def _row(
    record: Mapping[str, Any], mode: str, shown: Persona, example: Any, profile: str,
    shown_profile: list[float] | None, problem: str, direction: list[float] | None = None,
) -> dict[str, Any]:
    """The contract row of a formatted example (COLUMNS) plus the gate-only columns `problem` and `length`;
    `direction` overrides the record's (a counterfactual with chosen and rejected swapped)."""
    rid = str(record["record_id"])
    return {
        "example_id": rid,
        "record_id": rid,
        "user_id": str(record["user_id"]),
        "split": str(record["split"]),
        "mode": mode,
        "n_ugc": len(shown.ugc),
        "n_pair": len(shown.pair),
        "has_demo": bool(shown.demo),
        "n_cut": example.n_cut,
        "profile": profile,
        "direction": _direction(record) if direction is None else direction,
        # What the history shown reveals (the profile inferred from its direction vectors; null without any):
        # the evidence split of the evaluation and the `inferred_profile` reader read it.
        "shown_profile": shown_profile,
        "prompt_text": example.prompt_text,
        "prompt_ids": np.asarray(example.prompt_ids, dtype=np.int32),
        "chosen_ids": np.asarray(example.chosen_ids, dtype=np.int32),
        "rejected_ids": np.asarray(example.rejected_ids, dtype=np.int32),
        # Gate-only columns (not written).
        "problem": problem,
        "length": example.length,
    }


def format_records(
    records: Iterable[Mapping[str, Any]], aligner: str, tokenizer: Any, fmt: FormatConfig, spc: SpaceConfig
) -> pd.DataFrame:
    """Formatted rows of `records` (contract columns + gate columns `problem`, `length`)."""
    if aligner not in ALIGNERS:
        raise ValueError(f"aligner must be one of {ALIGNERS}, got {aligner!r}")
    rows = [row for r in records for row in format_rows(r, aligner, tokenizer, fmt, spc)]
    return pd.DataFrame(rows, columns=[*columns(aligner), "problem", "length"])


def gate_frame(examples: pd.DataFrame, n_records: int) -> pd.DataFrame:
    """The per-example facts the format gate checks (small: no text, no ids)."""
    n_prompt = examples["prompt_ids"].map(len)
    n_chosen, n_rejected = examples["chosen_ids"].map(len), examples["rejected_ids"].map(len)
    return pd.DataFrame(
        {
            "example_id": examples["example_id"],
            "record_id": examples["record_id"],
            "split": examples["split"],
            "mode": examples["mode"],
            "n_cut": examples["n_cut"],
            "n_prompt": n_prompt,
            "n_chosen": n_chosen,
            "n_rejected": n_rejected,
            "length": n_prompt + np.maximum(n_chosen, n_rejected),
            "responses_differ": [
                not np.array_equal(c, r) for c, r in zip(examples["chosen_ids"], examples["rejected_ids"])
            ],
            "problem": examples["problem"],
            "counterfactual": examples["counterfactual"] if "counterfactual" in examples else "",
        }
    ).assign(n_records=n_records)


def iter_records(path: Path | str, chunk_rows: int = 4096) -> Iterator[list[dict[str, Any]]]:
    """AlignX records of a parquet file as lists of plain dicts, `chunk_rows` at a time (bounded memory)."""
    parquet = pq.ParquetFile(path)
    for batch in parquet.iter_batches(batch_size=chunk_rows):
        yield batch.to_pylist()


def count_records(path: Path | str) -> int:
    return pq.ParquetFile(path).metadata.num_rows


def to_table(examples: pd.DataFrame, aligner: str) -> pa.Table:
    """The contract columns of formatted rows as an arrow table (gate-only columns dropped)."""
    return pa.Table.from_pandas(examples[list(columns(aligner))], schema=schema(aligner), preserve_index=False)
