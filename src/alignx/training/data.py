"""DPO training data: formatted examples joined with their cached reference log-probs, and the batch order.

Everything here runs before DeepSpeed starts, so a missing, corrupted or mismatched input fails in seconds
with the file, row and field named, never after the first optimizer step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch

from alignx.inputs.counterfactual import KINDS, original_of, partner_of
from alignx.modeling.logprobs import collate, collate_pairs

EXAMPLE_COLUMNS = ["example_id", "prompt_ids", "chosen_ids", "rejected_ids"]
REFERENCE_COLUMNS = ["example_id", "ref_chosen", "ref_rejected"]
SHOWN = 5


class TrainingDataError(ValueError):
    """A training input is missing, unreadable or inconsistent with its partner file."""


def _read(path: Path, columns: list[str], what: str) -> pd.DataFrame:
    if not path.exists():
        raise TrainingDataError(f"{path}: {what} file not found (run the stage that writes it first)")
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several types for a truncated or non-parquet file
        raise TrainingDataError(f"{path}: {what} file is not readable parquet ({exc})") from exc
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise TrainingDataError(f"{path}: {what} file lacks column(s) {missing} (has {schema.names})")
    try:
        return pq.read_table(path, columns=columns).to_pandas()
    except Exception as exc:
        raise TrainingDataError(f"{path}: {what} file is corrupted ({exc})") from exc


def load_split(format_file: Path, reference_file: Path) -> pd.DataFrame:
    """Formatted examples with `ref_chosen` / `ref_rejected` attached by `example_id`, in the examples' order.

    The reference may cover only the examples a run reads (the `reference` stage scores those: `rows_read`); the
    others get NaN, and `check_reference` fails a run that would read one. Fails when either file is missing or
    unreadable, ids repeat, a reference row has no example, a reference value is not finite, or an example has
    an empty response.
    """
    examples = _read(Path(format_file), EXAMPLE_COLUMNS, "formatted examples")
    reference = _read(Path(reference_file), REFERENCE_COLUMNS, "reference log-probs")
    if examples.empty:
        raise TrainingDataError(f"{format_file}: no examples")
    for frame, path in ((examples, format_file), (reference, reference_file)):
        dup = frame["example_id"][frame["example_id"].duplicated()]
        if len(dup):
            raise TrainingDataError(f"{path}: {len(dup)} duplicated example_id, e.g. rows {dup.index[:SHOWN].tolist()} "
                                    f"ids {dup[:SHOWN].tolist()}")
    ids, ref_ids = set(examples["example_id"]), set(reference["example_id"])
    if not ref_ids <= ids:
        absent, extra = sorted(ids - ref_ids), sorted(ref_ids - ids)
        raise TrainingDataError(
            f"{reference_file}: example ids do not match {format_file}: {len(extra)} reference rows have no example "
            f"(e.g. {extra[:SHOWN]}); {len(absent)} examples have no reference (e.g. {absent[:SHOWN]})"
        )
    for field in ("ref_chosen", "ref_rejected"):
        values = pd.to_numeric(reference[field], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise TrainingDataError(f"{reference_file}: field {field!r} is not a finite number at {len(bad)} rows, "
                                    f"e.g. rows {bad[:SHOWN].tolist()} ids {reference['example_id'].iloc[bad[:SHOWN]].tolist()}")
        reference[field] = values
    for field in ("chosen_ids", "rejected_ids"):
        empty = np.flatnonzero(examples[field].map(len).to_numpy() == 0)
        if len(empty):
            raise TrainingDataError(f"{format_file}: field {field!r} is empty at rows {empty[:SHOWN].tolist()}")
    return examples.merge(reference, on="example_id", how="left", validate="one_to_one")


def check_reference(frame: pd.DataFrame, rows: np.ndarray, reference_file: Path | str) -> None:
    """Fail, naming the examples, when a row a run reads has no reference log-probs (a reference scored for
    other `train` params)."""
    missing = rows[~np.isfinite(frame["ref_chosen"].to_numpy(dtype=np.float64)[rows])]
    if len(missing):
        ids = frame["example_id"].to_numpy()[missing[:SHOWN]].tolist()
        raise TrainingDataError(f"{reference_file}: {len(missing)} examples this run reads have no reference "
                                f"log-probs (e.g. ids {ids}); re-run the `reference` stage with the same `train` params")


def counterfactual_pairs(example_ids) -> tuple[np.ndarray, np.ndarray]:
    """For every row: the row of the example its margin is tied to (`counterfactual.partner_of`: its original, or
    for a pole the counterfactual it mirrors; -1 for an original, or when that example is not in the frame) and its
    counterfactual kind's code (0 for an original, then 1 + KINDS' index; ids: alignx.inputs.counterfactual.example_id)."""
    ids = [str(i) for i in example_ids]
    row_of = {example_id: row for row, example_id in enumerate(ids)}
    partner, kind = np.full(len(ids), -1, dtype=np.int64), np.zeros(len(ids), dtype=np.int64)
    for row, example_id in enumerate(ids):
        name = original_of(example_id)[1]
        tied = row_of.get(partner_of(example_id), -1) if name else -1
        if tied >= 0:
            partner[row], kind[row] = tied, 1 + KINDS.index(name)
    return partner, kind


def consistency_groups(example_ids) -> list[np.ndarray] | None:
    """The rows of each original example followed by its counterfactuals' (train.consistency: the batch plan's
    unit), in the order the originals first appear; None when no row has its partner in the frame (every group
    would be one row: the plain plan)."""
    ids = [str(i) for i in example_ids]
    partner, _ = counterfactual_pairs(ids)
    if not (partner >= 0).any():
        return None
    row_of = {example_id: row for row, example_id in enumerate(ids)}
    # A unit is everything written from one record: its original's row heads it (a counterfactual without one
    # heads its own unit).
    head = np.array([row_of.get(original_of(i)[0], row) for row, i in enumerate(ids)])
    order = np.argsort(head, kind="stable")  # each group's rows in file order (the original written first)
    starts = np.flatnonzero(np.r_[True, head[order][1:] != head[order][:-1]])
    groups = np.split(order, starts[1:])
    return sorted(groups, key=lambda g: int(g.min()))


def group_lengths(lengths: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    """Length of every group from its rows' `lengths`: its longest row."""
    return np.array([lengths[g].max() for g in groups], dtype=np.asarray(lengths).dtype)


def pair_positions(idx: np.ndarray, original: np.ndarray) -> np.ndarray:
    """For each row of a micro-batch `idx`: the position in `idx` of its original example (-1 when it is an
    original or its original is not in the micro-batch)."""
    where = {int(row): pos for pos, row in enumerate(idx)}
    return np.array([where.get(int(original[row]), -1) for row in idx], dtype=np.int64)


@dataclass
class Batches:
    """The deterministic batch order of a run: epoch e is a permutation seeded by (seed, e), cut into global
    batches. A step's examples depend only on (seed, step), so a resumed run sees exactly what an
    uninterrupted one would.

    With `groups` (the rows of each unit, `consistency_groups`), the plan orders units instead of rows: a global
    batch is `global_batch` units, a micro-batch `micro` units of one rank, so an original and its counterfactuals
    always share a micro-batch; `n_examples` and `lengths` then count and measure units (a unit's length: its
    longest row). Without, every row is its own unit (the plain plan).

    With `group_steps` k > 1 (and `lengths`), each window of k steps' worth of the permutation is sorted by length
    before being cut into steps, and those k steps are run in a seeded random order: a step holds examples of
    similar length (little padding: ICA's personas range from 0 to ~1,000 tokens), every example is still seen
    once per epoch, and short and long steps stay mixed over the run (HF's `group_by_length` megabatches)."""

    n_examples: int
    global_batch: int
    seed: int
    group_steps: int = 0
    lengths: np.ndarray | None = None
    groups: list[np.ndarray] | None = None

    def __post_init__(self) -> None:
        if self.group_steps > 1 and (self.lengths is None or len(self.lengths) != self.n_examples):
            raise ValueError(f"Batches: group_steps {self.group_steps} needs the lengths of all {self.n_examples} examples")
        if self.groups is not None and len(self.groups) != self.n_examples:
            raise ValueError(f"Batches: {len(self.groups)} groups for {self.n_examples} units")

    def _rows(self, units: np.ndarray) -> np.ndarray:
        """The rows of `units`, unit by unit (the units themselves in the plain plan)."""
        if self.groups is None:
            return units
        return np.concatenate([self.groups[u] for u in units]) if len(units) else np.zeros(0, dtype=np.int64)


    @property
    def steps_per_epoch(self) -> int:
        return self.n_examples // self.global_batch  # the last partial batch is dropped: every step is full

    def step_indices(self, step: int) -> np.ndarray:
        """Example (row) indices of optimizer step `step` (all ranks, all accumulation micro-batches)."""
        return self._rows(self.step_units(step))

    def step_units(self, step: int) -> np.ndarray:
        """Unit indices of optimizer step `step` (rows in the plain plan)."""
        epoch, k = divmod(step, self.steps_per_epoch)
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        order = torch.randperm(self.n_examples, generator=generator).numpy()
        if self.group_steps > 1:
            window, k = divmod(k, self.group_steps)
            first = window * self.group_steps  # the window's first step
            n_steps = min(self.group_steps, self.steps_per_epoch - first)
            part = order[first * self.global_batch : (first + n_steps) * self.global_batch]
            order = part[np.argsort(self.lengths[part], kind="stable")]
            k = int(np.random.default_rng([self.seed, epoch, window]).permutation(n_steps)[k])  # steps in a random order
        return order[k * self.global_batch : (k + 1) * self.global_batch]

    def micro_batches(self, step: int, lengths: np.ndarray, rank: int, world: int, micro: int) -> list[np.ndarray]:
        """This rank's micro-batches of a step. Within a step the examples are sorted by length before being
        cut, so each micro-batch pads little; the set of examples per optimizer step is unchanged. `lengths` are
        the rows'; with `groups` whole units are sorted, dealt to ranks and cut (`micro` units a micro-batch)."""
        idx = self.step_units(step)
        unit_lengths = lengths if self.groups is None else group_lengths(lengths, self.groups)
        idx = idx[np.argsort(unit_lengths[idx], kind="stable")]
        per_rank = len(idx) // world
        mine = idx[rank::world][:per_rank]  # interleaved: every rank gets a similar length mix
        return [self._rows(mine[i : i + micro]) for i in range(0, len(mine), micro)]


def run_steps(batches: Batches, epochs: int, max_steps: int) -> int:
    """Optimizer steps of a run: every full batch of `epochs` epochs, capped at `max_steps` when > 0."""
    total = batches.steps_per_epoch * epochs
    return min(total, max_steps) if max_steps > 0 else total


def plan(frame: pd.DataFrame, global_batch: int, seed: int, group_steps: int, paired: bool = False) -> Batches:
    """The batch plan of a run over `frame`: rows in the plain plan; with `paired` (train.consistency on; the
    frame's `example_id` is then read) each original with its counterfactuals as one unit (`consistency_groups`)."""
    lengths = sequence_lengths(frame)
    groups = consistency_groups(frame["example_id"]) if paired else None
    if groups is None:
        return Batches(len(frame), global_batch, seed, group_steps, lengths)
    return Batches(len(groups), global_batch, seed, group_steps, group_lengths(lengths, groups), groups)


def rows_read(frame: pd.DataFrame, global_batch: int, seed: int, group_steps: int, epochs: int,
              max_steps: int, paired: bool = False) -> np.ndarray:
    """Row positions (ascending) of the train examples a run with these `train` params reads: the examples of
    its every step, whatever the number of processes (a step's examples depend only on seed and step). What the
    `reference` stage scores; the rest of the split costs nothing. `paired`: the plan of `plan`."""
    batches = plan(frame, global_batch, seed, group_steps, paired)
    steps = run_steps(batches, epochs, max_steps)
    if steps == 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate([batches.step_indices(step) for step in range(steps)])).astype(np.int64)


def dpo_batch(frame: pd.DataFrame, idx: np.ndarray, pad_id: int, packed: bool = False) -> dict[str, torch.Tensor]:
    """Chosen and rejected of the examples `idx` plus their reference log-probs: ONE right-padded batch of 2B
    sequences (chosen first), or with `packed` B rows of `prompt + chosen + rejected` (`collate_pairs`: the
    shared prompt runs once; ICA's 300-600-token personas make that about half the positions)."""
    prompts = frame["prompt_ids"].to_numpy()[idx].tolist()
    chosen, rejected = frame["chosen_ids"].to_numpy()[idx].tolist(), frame["rejected_ids"].to_numpy()[idx].tolist()
    batch = collate_pairs(prompts, chosen, rejected, pad_id) if packed else collate(prompts * 2, chosen + rejected, pad_id)
    if not np.isfinite(frame["ref_chosen"].to_numpy()[idx]).all():  # check_reference runs first; never train on NaN
        check_reference(frame, np.asarray(idx), "the reference log-probs")
    batch["ref_chosen"] = torch.as_tensor(frame["ref_chosen"].to_numpy()[idx], dtype=torch.float64)
    batch["ref_rejected"] = torch.as_tensor(frame["ref_rejected"].to_numpy()[idx], dtype=torch.float64)
    batch["chosen_tokens"] = torch.as_tensor([len(c) for c in chosen], dtype=torch.float32)
    return batch


LOSS_INPUTS = ("ref_chosen", "ref_rejected", "chosen_tokens")  # what dpo_batch adds for the loss, not the model


def model_inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors of a `dpo_batch` that the policy's forward takes (all but the loss's inputs)."""
    return {k: v for k, v in batch.items() if k not in LOSS_INPUTS}


def sequence_tokens(batch: dict[str, torch.Tensor]) -> int:
    """Tokens of the batch's chosen and rejected sequences with the prompt counted in each: the work a step
    does, packed or not (packing runs fewer positions for the same sequences; `flops.counted_tokens`)."""
    if "segment" in batch:
        return int((batch["segment"] >= 0).sum() + (batch["segment"] == 0).sum())
    return int(batch["attention_mask"].sum())


def sequence_lengths(frame: pd.DataFrame) -> np.ndarray:
    """Longest padded length of each example's pair (prompt + longer response)."""
    prompt = frame["prompt_ids"].map(len).to_numpy()
    return prompt + np.maximum(frame["chosen_ids"].map(len).to_numpy(), frame["rejected_ids"].map(len).to_numpy())
