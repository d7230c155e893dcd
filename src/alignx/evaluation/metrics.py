"""The arithmetic of evaluation, on per-example score tables.

A score table has one row per preference pair and summed response-token log-probs in these columns:

    policy_chosen, policy_rejected   the aligner on the input it was trained for (persona or profile shown)
    ref_chosen, ref_rejected         the base model on that same input (the `reference` stage)
    bare_chosen, bare_rejected       the base model on the post alone (no persona)
    n_chosen, n_rejected             response lengths in tokens
    cluster                          the record's resampling unit for intervals (alignx.evaluation.intervals)
    baseline_margin_<name>           optional: one more baseline's reward margin r(chosen) - r(rejected) per pair

Implicit reward (alignx.reward): r(y) = beta * (log pi(y | x) - log pi_ref(y | x)); a pair is correct when
r(chosen) > r(rejected) strictly (a tie is not a preference).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from alignx import readers
from alignx.evaluation.intervals import CLUSTER, Bootstrap, add_interval, add_paired
from alignx.reward import implicit_reward

Method = Callable[[pd.DataFrame, float], pd.Series]


def reward_margin(frame: pd.DataFrame, beta: float, policy: str = "policy", reference: str = "ref") -> pd.Series:
    """r(chosen) - r(rejected) with r(y) = beta * (log pi(y|x) - log pi_ref(y|x)) on the same input x."""
    chosen = implicit_reward(frame[f"{policy}_chosen"], frame[f"{reference}_chosen"], beta)
    rejected = implicit_reward(frame[f"{policy}_rejected"], frame[f"{reference}_rejected"], beta)
    return chosen - rejected


def aligner(frame: pd.DataFrame, beta: float) -> pd.Series:
    """The aligner's implicit reward prefers the chosen response."""
    return reward_margin(frame, beta) > 0


def base_no_persona(frame: pd.DataFrame, beta: float) -> pd.Series:
    """Baseline (a): the base model with no persona prefers the response it finds more likely."""
    return frame["bare_chosen"] > frame["bare_rejected"]


def base_persona(frame: pd.DataFrame, beta: float) -> pd.Series:
    """Baseline (b): the untrained base prompted with the persona, reward = base with persona against base
    without (how much showing the persona raises the response's likelihood)."""
    return reward_margin(frame, beta, policy="ref", reference="bare") > 0


def base_no_persona_per_token(frame: pd.DataFrame, beta: float) -> pd.Series:
    """Baseline (a) on mean per-token log-probs: summed ones favour the shorter response whatever it says
    (a pretrained model on P-Soups, whose chosen responses are the longer ones, scores far below chance)."""
    return frame["bare_chosen"] / frame["n_chosen"] > frame["bare_rejected"] / frame["n_rejected"]


def vpl(frame: pd.DataFrame, beta: float) -> pd.Series:
    """Baseline (c): VPL's user-conditioned reward model (stage `vpl`, alignx.vpl) prefers the chosen response."""
    return frame["vpl_chosen"] > frame["vpl_rejected"]


METHODS: dict[str, Method] = {"aligner": aligner, "base_no_persona": base_no_persona, "base_persona": base_persona}
# The paper's two baselines: `best_baseline` and `gain` compare against these and every extra baseline column.
BASELINES = ("base_no_persona", "base_persona")
# A score-table column `baseline_margin_<name>` is one more baseline <name> (e.g. a trained reward model's
# r(chosen) - r(rejected)): scored, reported and counted in `best_baseline` like the paper's two, no code change.
BASELINE_MARGIN = "baseline_margin_"
# The paper's VPL baseline: a method and a baseline of every score table that carries its rewards (stage vpl).
VPL_COLUMNS = ("vpl_chosen", "vpl_rejected")
OPTIONAL: dict[str, Method] = {"vpl": vpl}
# Reported beside the paper's methods, never counted as the best baseline.
DIAGNOSTICS: dict[str, Method] = {"base_no_persona_per_token": base_no_persona_per_token}


def _margin_method(column: str) -> Method:
    return lambda frame, beta: frame[column] > 0


def methods(frame: pd.DataFrame) -> dict[str, Method]:
    """METHODS plus one baseline per `baseline_margin_<name>` column of the score table `frame`, and VPL when
    `frame` carries its rewards (stage vpl)."""
    extra = {c[len(BASELINE_MARGIN):]: _margin_method(c) for c in frame.columns if c.startswith(BASELINE_MARGIN)}
    extra |= {name: m for name, m in OPTIONAL.items() if all(c in frame for c in VPL_COLUMNS)}
    return {**METHODS, **{name: m for name, m in extra.items() if name not in METHODS}}


def baselines(frame: pd.DataFrame) -> list[str]:
    """The baselines `frame` can be scored with: BASELINES and every extra baseline column (`methods`)."""
    return [*BASELINES, *(name for name in methods(frame) if name != "aligner" and name not in BASELINES)]


def accuracy(correct: pd.Series) -> float:
    """Share of correct pairs; NaN for an empty set (nothing measured is not 0 %)."""
    return float(correct.mean()) if len(correct) else float("nan")


def summarize(frame: pd.DataFrame, beta: float, boot: Bootstrap | None = None) -> dict[str, Any]:
    """Accuracy of the aligner, every baseline (`baselines`) and the diagnostics on one eval set, the best baseline
    and the aligner's gain over it and over each baseline (`gain_vs_<baseline>`); `baselines` lists the baselines.

    With `boot` (and the score table's `cluster` column), every accuracy gets its cluster-bootstrap interval
    (`<figure>_ci_low`, `<figure>_ci_high`), every gain its paired interval and p-value (`gain_p_value`, ...),
    and `clusters` counts the resampling units. The best baseline is the one best on the whole set, fixed
    across resamples."""
    names = baselines(frame)
    correct = {name: method(frame, beta) for name, method in {**methods(frame), **DIAGNOSTICS}.items()}
    out: dict[str, Any] = {"n": int(len(frame))}
    for name in (*METHODS, *DIAGNOSTICS, *(n for n in names if n not in METHODS)):
        out[name] = accuracy(correct[name])
    best = max(names, key=lambda b: -np.inf if np.isnan(out[b]) else out[b])
    out["best_baseline"] = out[best]
    out["best_baseline_name"] = best
    out["gain"] = out["aligner"] - out[best]
    out["baselines"] = names
    for name in names:
        out[f"gain_vs_{name}"] = out["aligner"] - out[name]
    if boot is not None and len(frame):
        clusters = frame[CLUSTER].to_numpy()
        out["clusters"] = int(pd.unique(clusters).size)
        for name in (*METHODS, *DIAGNOSTICS, *(n for n in names if n not in METHODS)):
            add_interval(out, name, correct[name], clusters, boot)
        add_interval(out, "best_baseline", correct[best], clusters, boot)
        add_paired(out, "gain", correct["aligner"], correct[best], clusters, boot)
        for name in names:
            add_paired(out, f"gain_vs_{name}", correct["aligner"], correct[name], clusters, boot)
    return out


def grouped_accuracy(frame: pd.DataFrame, correct: pd.Series, by: str | list[str]) -> pd.DataFrame:
    """Accuracy and count per group of `by` (e.g. persona mode, number of history items)."""
    keys = [by] if isinstance(by, str) else list(by)
    grouped = frame[keys].assign(correct=correct.to_numpy()).groupby(keys, sort=True)["correct"]
    return grouped.agg(accuracy="mean", n="size").reset_index()


def flip_table(frame: pd.DataFrame, beta: float) -> pd.DataFrame:
    """Controllability per pair: does the preferred response follow one dimension's label in the profile?

    `frame` has one row per (dimension, pair) with the aligner's log-probs under the profile carrying a
    dimension's positive label (`pos_*`) and its negative label (`neg_*`), the base model's on the same two
    inputs (`pos_ref_*`, `neg_ref_*`), and `pair_value`, the pair's direction on dimension `dim` (1 / 0 / 0.5).
    The labels are `dim`'s own, or another dimension's (column `label_dim`, the placebo). Adds:

        flipped        the sign of the reward margin differs between the two profiles
        follows        a non-neutral pair: the margin moves towards the pair's side of `dim` when the positive
                       label replaces the negative one (towards chosen when the pair's value is 1)
        flipped_right  a non-neutral pair: both profiles prefer the response on their side (it flips, and the
                       right way round)
    """
    pos = reward_margin(frame, beta, policy="pos", reference="pos_ref")
    neg = reward_margin(frame, beta, policy="neg", reference="neg_ref")
    out = frame[[c for c in ("dim", "label_dim", "example_id", CLUSTER, "pair_value") if c in frame.columns]].copy()
    out["margin_pos"], out["margin_neg"] = pos.to_numpy(), neg.to_numpy()
    out["neutral"] = out["pair_value"] == 0.5
    out["flipped"] = np.sign(out["margin_pos"]) != np.sign(out["margin_neg"])
    # chosen is on the positive side when the pair's direction is 1: the positive profile should prefer it.
    wants_chosen = out["pair_value"] == 1.0
    shift = out["margin_pos"] - out["margin_neg"]
    out["follows"] = ~out["neutral"] & np.where(wants_chosen, shift > 0, shift < 0)
    out["flipped_right"] = (~out["neutral"] & ((out["margin_pos"] > 0) == wants_chosen)
                            & ((out["margin_neg"] > 0) != wants_chosen))
    return out


def controllability(flips: pd.DataFrame, placebo: pd.DataFrame | None = None,
                    boot: Bootstrap | None = None) -> dict[str, float | int]:
    """Rates on non-neutral and neutral pairs (pooled over dimensions), how many dimensions had pairs, and
    with a `placebo` flip table (the same non-neutral pairs, labels of an unrelated dimension) the rate at
    which the margin follows the pair anyway: `follows_specific` = follows_non_neutral - placebo_follows is
    what the dimension's own label adds.

    Why a pair flips: its two margins are common +- shift, with common = (pos + neg) / 2 the part that does not
    depend on the label's polarity and shift = (pos - neg) / 2 what the polarity moves; the signs differ exactly
    when |shift| > |common|. `shift_*` and `common_*` are the medians of |shift| and |common| over each set.

    With `boot` (and a `cluster` column in the flip tables) every rate gets its cluster-bootstrap interval and
    `follows_specific` its paired interval and p-value (the placebo scores the same pairs in the same order)."""
    non_neutral, neutral = flips[~flips["neutral"]], flips[flips["neutral"]]
    out: dict[str, float | int] = {
        "flip_non_neutral": accuracy(non_neutral["flipped"]),
        "flip_neutral": accuracy(neutral["flipped"]),
        "follows_non_neutral": accuracy(non_neutral["follows"]),
        "flip_right_non_neutral": accuracy(non_neutral["flipped_right"]),
        "pairs_non_neutral": int(len(non_neutral)),
        "pairs_neutral": int(len(neutral)),
        "dims_measured": int(non_neutral["dim"].nunique()),
        **_shift_and_common(non_neutral, "non_neutral"), **_shift_and_common(neutral, "neutral"),
    }
    if placebo is not None:
        measured = placebo[~placebo["neutral"]]
        out["placebo_follows"] = accuracy(measured["follows"])
        out["placebo_flip"] = accuracy(measured["flipped"])
        out["pairs_placebo"] = int(len(measured))
        out["follows_specific"] = out["follows_non_neutral"] - out["placebo_follows"]
        out |= _shift_and_common(measured, "placebo")
    if boot is not None:
        rates = {"flip_non_neutral": (non_neutral, "flipped"), "flip_neutral": (neutral, "flipped"),
                 "follows_non_neutral": (non_neutral, "follows"), "flip_right_non_neutral": (non_neutral, "flipped_right")}
        if placebo is not None:
            rates |= {"placebo_follows": (measured, "follows"), "placebo_flip": (measured, "flipped")}
        for key, (table, column) in rates.items():
            if len(table):
                add_interval(out, key, table[column], table[CLUSTER].to_numpy(), boot)
        if placebo is not None and len(measured) and len(non_neutral):
            same = non_neutral["example_id"].to_numpy(), measured["example_id"].to_numpy()
            if len(same[0]) != len(same[1]) or (same[0] != same[1]).any():
                raise ValueError("controllability: the placebo table does not hold the non-neutral pairs in order")
            add_paired(out, "follows_specific", non_neutral["follows"], measured["follows"],
                       non_neutral[CLUSTER].to_numpy(), boot)
    return out


def _shift_and_common(flips: pd.DataFrame, name: str) -> dict[str, float]:
    """Medians of |shift| = |pos - neg| / 2 and |common| = |pos + neg| / 2 of a flip table's margins (nan if empty)."""
    shift, common = (flips["margin_pos"] - flips["margin_neg"]) / 2, (flips["margin_pos"] + flips["margin_neg"]) / 2
    return {f"shift_{name}": float(shift.abs().median()), f"common_{name}": float(common.abs().median())}


def per_dimension(flips: pd.DataFrame) -> pd.DataFrame:
    """Flip rate per dimension, non-neutral and neutral pairs side by side."""
    table = flips.groupby(["dim", "neutral"])["flipped"].mean().unstack("neutral")
    table = table.reindex(columns=[False, True]).rename(columns={False: "flip_non_neutral", True: "flip_neutral"})
    return table.reset_index().rename_axis(columns=None)


def reader_summary(credit: pd.DataFrame, correct: pd.Series, boot: Bootstrap | None = None,
                   clusters: Any = None) -> dict[str, dict[str, float | int]]:
    """Per reader: its accuracy (mean credit), the aligner's accuracy on the same pairs and their count; with
    `boot` and the pairs' `clusters`, both accuracies' intervals (a reader that judged nothing gets none)."""
    correct = pd.Series(np.asarray(correct, dtype=float), index=credit.index)
    out = {}
    for name in credit.columns:
        judged = credit[name].notna()
        out[name] = {"accuracy": accuracy(credit.loc[judged, name]), "aligner": accuracy(correct[judged]),
                     "n": int(judged.sum())}
        if boot is not None and judged.any():
            units = np.asarray(clusters)[judged.to_numpy()]
            add_interval(out[name], "accuracy", credit.loc[judged, name], units, boot)
            add_interval(out[name], "aligner", correct[judged], units, boot)
    return out


def evidence_split(inferred: pd.Series, correct: pd.Series, boot: Bootstrap | None = None,
                   clusters: Any = None) -> dict[str, dict[str, float | int]]:
    """Aligner accuracy and pair count where the history shown favours the chosen response (the reader of the
    shown profile credits 1), says nothing (0.5, including nothing inferable shown) or favours the rejected one
    (0). Pairs without a direction vector are in none of the three. With `boot` and the pairs' `clusters`, each
    measured accuracy's interval."""
    correct = pd.Series(np.asarray(correct, dtype=float), index=inferred.index)
    out = {}
    for name, value in readers.EVIDENCE.items():
        rows = inferred == value
        out[name] = {"accuracy": accuracy(correct[rows]), "n": int(rows.sum())}
        if boot is not None and rows.any():
            add_interval(out[name], "accuracy", correct[rows], np.asarray(clusters)[rows.to_numpy()], boot)
    return out
