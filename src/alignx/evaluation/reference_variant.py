"""PBA with the reference scored on the ICA prompt: parity with the paper's accuracy script, never the default.

The default (`metrics.aligner`) compares PBA with the base model on PBA's own input, the profile; the paper's script
scores PBA's reference on the ICA prompt (the persona's history) of the same record:

    r(y) = beta * (log pi_PBA(y | profile prompt) - log pi_base(y | ICA prompt))

The ICA prompt's reference log-probs are those stage `eval_inputs` computed for ICA (data/eval/*/reference/ica),
joined to PBA's examples by record id after checking that both hold the same records with the same response
tokens. Written into metrics/pba.json as section `reference_variant`, labelled parity-only in reports/pba.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alignx.evaluation import eval_sets, metrics
from alignx.evaluation.intervals import CLUSTER, Bootstrap, add_interval, add_paired

SECTION = "reference_variant"
ICA_REF = "ica_ref"  # score-table column prefix of the ICA prompt's reference log-probs


def join(pba: pd.DataFrame, ica: pd.DataFrame, where: str) -> pd.DataFrame:
    """`ica_ref_chosen`, `ica_ref_rejected` of each PBA example (row order and index of `pba`), from the ICA eval
    input `ica` (eval_sets.load) of the same records. Raises EvalInputError naming `where` and the record when the
    two do not hold exactly the same records, one ICA example per record, the same chosen / rejected token ids,
    and one finite reference per ICA example."""
    dup = ica["record_id"][ica["record_id"].duplicated()]
    if len(dup):
        raise eval_sets.EvalInputError(f"{where}: record {dup.iloc[0]!r} has {int((ica['record_id'] == dup.iloc[0]).sum())} "
                                       "ICA examples; the reference variant needs one per record")
    for left, right, side in ((pba, ica, "ICA"), (ica, pba, "PBA")):
        missing = ~left["record_id"].isin(right["record_id"])
        if missing.any():
            raise eval_sets.EvalInputError(f"{where}: record {left['record_id'][missing].iloc[0]!r} has no {side} example "
                                           f"({int(missing.sum())} such); PBA and ICA must hold the same records")
    both = pba[["record_id", "chosen_ids", "rejected_ids"]].merge(
        ica[["record_id", "chosen_ids", "rejected_ids", "ref_chosen", "ref_rejected", "reference_rows"]],
        on="record_id", how="left", suffixes=("", "_ica"), validate="one_to_one")
    for field in ("chosen_ids", "rejected_ids"):
        same = np.array([np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(both[field], both[f"{field}_ica"])])
        if not same.all():
            raise eval_sets.EvalInputError(f"{where}: record {both['record_id'][~same].iloc[0]!r}, field {field!r}: the ICA "
                                           f"example's response tokens differ from PBA's ({int((~same).sum())} records)")
    refs = both[["ref_chosen", "ref_rejected"]].to_numpy(dtype=float)
    bad = (both["reference_rows"] != 1).to_numpy() | ~np.isfinite(refs).all(axis=1)
    if bad.any():
        raise eval_sets.EvalInputError(f"{where}: record {both['record_id'][bad].iloc[0]!r}: the ICA example needs exactly "
                                       "one finite reference row")
    return pd.DataFrame({f"{ICA_REF}_chosen": refs[:, 0], f"{ICA_REF}_rejected": refs[:, 1]}, index=pba.index)


def summary(scores: pd.DataFrame, ica_ref: pd.DataFrame, beta: float, boot: Bootstrap | None = None) -> dict:
    """PBA's accuracy against the reference on the ICA prompt (`accuracy`), beside the same-input figure
    (`same_input`, metrics.aligner) and their difference (variant minus same input, paired over the same pairs),
    with intervals, the difference's p-value and the resampling units (`clusters`) when `boot` is given."""
    frame = scores.join(ica_ref)
    variant = metrics.reward_margin(frame, beta, "policy", ICA_REF) > 0
    same = metrics.aligner(frame, beta)
    out = {"accuracy": metrics.accuracy(variant), "same_input": metrics.accuracy(same), "n": int(len(frame))}
    out["difference"] = out["accuracy"] - out["same_input"]
    if boot is not None and len(frame):
        units = frame[CLUSTER].to_numpy()
        out["clusters"] = int(pd.unique(units).size)
        add_interval(out, "accuracy", variant, units, boot)
        add_interval(out, "same_input", same, units, boot)
        add_paired(out, "difference", variant, same, units, boot)
    return out


def measure(frames: dict[str, pd.DataFrame], tables: dict[str, pd.DataFrame], splits: Sequence[str],
            benchmark_files: dict[str, str], beta: float, boot: Bootstrap | None = None) -> dict[str, dict]:
    """`summary` per PBA eval set (`frames`, loaded; `tables`, their score tables in the same row order), each
    joined with ICA's eval inputs of the same name (test, novel, every benchmark)."""
    sources = eval_sets.eval_sets("ica", list(splits), benchmark_files)
    out = {}
    for name, frame in frames.items():
        files, _ = sources[name]
        ica = eval_sets.load(files, users_file=None)
        if ica.empty:
            raise eval_sets.EvalInputError(f"{files['examples']}: no ICA examples for PBA's {len(frame)} {name!r} records")
        ica_ref = join(frame, ica, str(files["examples"]))
        out[name] = summary(tables[name], ica_ref.set_axis(tables[name].index), beta, boot)
    return out
