"""The paper's measurements on one aligner, from loaded eval sets (`eval_sets.load`) and two scorers.

    accuracy on an eval set     the aligner and every baseline (metrics.methods) on the formatted examples
    robustness                  test records re-rendered with k = 0..4 history items of one source
    oracle profile (PBA)        the profile verbalized from each test pair's own judged direction (an oracle,
                                as in the paper's table: no history reveals that much)
    controllability (PBA)       single-dimension profiles, positive label against negative label, and a
                                placebo with an unrelated dimension's labels
    readers, evidence split     fixed reference readers on the same pairs (`readers`), and the aligner's
                                accuracy where the history shown favours, says nothing about or misleads on a pair

Every figure carries a 95 % cluster-bootstrap interval by user, every gain a paired interval and p-value
(alignx.evaluation.intervals; params evaluate.bootstrap_resamples, interval_level, seed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from alignx import space
from alignx.config import EvaluateConfig
from alignx import readers
from alignx.evaluation import eval_sets, metrics
from alignx.evaluation.intervals import CLUSTER, Bootstrap, add_interval
from alignx.evaluation.results import AlignerResults
from alignx.evaluation.scoring import ID_COLUMNS, Scorer, history_input, plain_inputs, profile_inputs
from alignx.inputs.examples import profile_labels
from alignx.inputs.prompts import MAX_ITEMS, PAIR, UGC, Persona

SOURCES = {"ugc": UGC, "pair": PAIR}


@dataclass
class Evaluator:
    """What every measurement needs: the two models, the tokenizer and the input budget."""

    aligner: str
    policy: Scorer
    base: Scorer
    tokenizer: Any
    beta: float
    max_len: int
    thresholds: tuple[float, float]  # PBA profile inference: (positive, negative), params `space`

    def both(self, inputs: pd.DataFrame, what: str, policy: str = "policy", ref: str = "ref") -> pd.DataFrame:
        """`<policy>_chosen/_rejected` (aligner) and `<ref>_chosen/_rejected` (base model) on the same inputs."""
        out = pd.DataFrame(index=inputs.index)
        out[f"{policy}_chosen"], out[f"{policy}_rejected"] = self.policy(inputs, what)
        out[f"{ref}_chosen"], out[f"{ref}_rejected"] = self.base(inputs, what)
        return out

    def score_set(self, frame: pd.DataFrame, name: str) -> pd.DataFrame:
        """The score table of one eval set (metrics module docstring): the aligner on the examples as formatted,
        the reference read from the `reference` stage, the base model on the post alone."""
        keep = ["example_id", "mode", "n_ugc", "n_pair", "ref_chosen", "ref_rejected"]
        scores = frame[keep + [c for c in ("user_id", CLUSTER) if c in frame.columns]].copy()
        scores["policy_chosen"], scores["policy_rejected"] = self.policy(frame, name)
        bare = plain_inputs(self.tokenizer, frame)
        scores["bare_chosen"], scores["bare_rejected"] = self.base(bare, f"{name}, no persona")
        scores["n_chosen"], scores["n_rejected"] = frame["chosen_ids"].map(len), frame["rejected_ids"].map(len)
        for column in metrics.VPL_COLUMNS:  # the VPL baseline's rewards (stage vpl), when it ran
            if column in frame:
                scores[column] = frame[column].to_numpy()
        return scores

    def robustness(self, test: pd.DataFrame, scores: pd.DataFrame, n_records: int, seed: int,
                   boot: Bootstrap | None = None) -> pd.DataFrame:
        """Aligner accuracy by history size: k = 0 is the post alone; k = 1..4 shows the record's k most recent
        UGC items only, or PAIR items only. An ICA input that would need items cut to fit is left out (it would
        not show k items); a PBA profile cut to fit still comes from k items. Columns: k, ugc, pair, n_ugc,
        n_pair; with `boot` (and `test[cluster]`) also each accuracy's interval, <source>_ci_low / _ci_high."""
        sample = test if n_records <= 0 or n_records >= len(test) else test.sample(n_records, random_state=seed)
        units = sample[CLUSTER].to_numpy() if CLUSTER in sample.columns else np.zeros(len(sample))
        built = []  # (source, k, prompt ids, chosen ids, rejected ids, cluster)
        for record, unit in zip(tqdm(sample.to_dict("records"), desc="robustness inputs", unit="record"), units):
            for source, field in SOURCES.items():
                n_items = min(len(record[field] if record[field] is not None else []), MAX_ITEMS)
                for k in range(1, n_items + 1):
                    shown = tuple(range(n_items - k, n_items))
                    persona = Persona(source, ugc=shown if source == "ugc" else (), pair=shown if source == "pair" else ())
                    tok = history_input(self.tokenizer, self.aligner, record, persona, self.max_len, self.thresholds)
                    if tok is not None and tok.fits and (self.aligner == "pba" or tok.n_cut == 0):
                        built.append((source, k, tok.prompt_ids, tok.chosen_ids, tok.rejected_ids, unit))
        rows = pd.DataFrame(built, columns=["source", "k", *ID_COLUMNS, CLUSTER])
        if len(rows):
            rows = rows.join(self.both(rows[ID_COLUMNS], "robustness"))
            rows["correct"] = metrics.aligner(rows, self.beta)
        # k = 0: the aligner on the post alone, against the base model's scores of that input (already in `scores`).
        bare = scores.set_index("example_id").loc[sample["example_id"], ["bare_chosen", "bare_rejected"]].reset_index()
        bare["policy_chosen"], bare["policy_rejected"] = self.policy(plain_inputs(self.tokenizer, sample), "no persona")
        k0_correct = metrics.reward_margin(bare, self.beta, "policy", "bare") > 0
        k0 = metrics.accuracy(k0_correct)
        curve = []
        for k in range(MAX_ITEMS + 1):
            row: dict[str, float] = {"k": k}
            for source in SOURCES:
                hit = rows[(rows["source"] == source) & (rows["k"] == k)] if len(rows) else rows
                row[source] = k0 if k == 0 else metrics.accuracy(hit["correct"]) if len(hit) else float("nan")
                row[f"n_{source}"] = len(bare) if k == 0 else len(hit)
                if boot is not None:
                    correct, where = (k0_correct, units) if k == 0 else (hit["correct"] if len(hit) else [],
                                                                         hit[CLUSTER].to_numpy() if len(hit) else [])
                    add_interval(row, source, correct, where, boot)
            curve.append(row)
        extra = [f"{s}{end}" for s in SOURCES for end in ("_ci_low", "_ci_high")] if boot is not None else []
        return pd.DataFrame(curve, columns=["k", "ugc", "pair", "n_ugc", "n_pair", *extra])

    def oracle(self, test: pd.DataFrame, boot: Bootstrap | None = None) -> dict[str, float | int]:
        """PBA with the oracle profile: accuracy when the profile is the test pair's own judged direction (with
        `boot` and `test[cluster]`, its interval)."""
        rows = test[test["direction"].notna()]
        inputs = profile_inputs(self.tokenizer, rows, [_oracle_labels(r) for r in rows.itertuples()], self.max_len)
        scored = self.both(inputs, "oracle profile")
        correct = metrics.aligner(scored, self.beta)
        out = {"accuracy": metrics.accuracy(correct), "n": int(len(rows)), "labels_cut": int((inputs["n_cut"] > 0).sum())}
        if boot is not None and len(rows):
            add_interval(out, "accuracy", correct, rows[CLUSTER].to_numpy(), boot)
        return out

    def controllability(
        self, test: pd.DataFrame, per_dim: int, seed: int, dims: list[int] | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """metrics.flip_table over up to `per_dim` non-neutral and `per_dim` neutral test pairs per dimension
        (every dimension, or those in `dims`), and its placebo: the same non-neutral pairs with the labels of
        another dimension, drawn at random among those the pair is neutral on (so the label says nothing
        about the pair; only a global reaction to positive / negative labels can move the margin)."""
        rows = test[test["direction"].notna()].reset_index(drop=True)
        directions = np.stack([np.asarray(v, dtype=float) for v in rows["direction"]])
        rng = np.random.default_rng(seed)
        picks = []  # (dim, row index)
        for dim in dims or range(space.N_DIMS):
            for mask in (directions[:, dim] != space.NEUTRAL, directions[:, dim] == space.NEUTRAL):
                candidates = np.flatnonzero(mask)
                chosen = rng.choice(candidates, min(per_dim, len(candidates)), replace=False)
                picks += [(dim, int(i)) for i in chosen]
        dim_of, row_of = np.array([d for d, _ in picks], dtype=int), np.array([i for _, i in picks], dtype=int)
        table = pd.DataFrame({"dim": dim_of, "label_dim": dim_of, "example_id": rows["example_id"].to_numpy()[row_of],
                              "pair_value": directions[row_of, dim_of]})
        if CLUSTER in rows.columns:
            table.insert(3, CLUSTER, rows[CLUSTER].to_numpy()[row_of])
        flips = self._flip_table(table, rows.iloc[row_of], "controllability")
        non_neutral = (table["pair_value"] != space.NEUTRAL).to_numpy()
        placebo = table[non_neutral].reset_index(drop=True)
        placebo["label_dim"] = [_unrelated_dim(rng, directions[i], d)
                                for d, i in zip(dim_of[non_neutral], row_of[non_neutral])]
        return flips, self._flip_table(placebo, rows.iloc[row_of[non_neutral]], "controllability placebo")

    def _flip_table(self, table: pd.DataFrame, rows: pd.DataFrame, what: str) -> pd.DataFrame:
        """Score `rows` (one per table row) with the positive, then the negative label of `table.label_dim`."""
        rows = rows.reset_index(drop=True)
        for side in ("pos", "neg"):
            labels = [[space.DIMENSIONS[d].positive if side == "pos" else space.DIMENSIONS[d].negative]
                      for d in table["label_dim"]]
            inputs = profile_inputs(self.tokenizer, rows, labels, self.max_len)
            table = table.join(self.both(inputs, f"{what}, {side} label", policy=side, ref=f"{side}_ref"))
        return metrics.flip_table(table, self.beta)


def _unrelated_dim(rng: np.random.Generator, direction: np.ndarray, dim: int) -> int:
    """A random dimension other than `dim` that the pair is neutral on (any other one if there is none)."""
    others = np.arange(space.N_DIMS) != dim
    candidates = np.flatnonzero(others & (direction == space.NEUTRAL))
    return int(rng.choice(candidates if len(candidates) else np.flatnonzero(others)))


def _oracle_labels(row: Any) -> list[str]:
    """The profile labels of a test pair's own direction vector; a malformed vector names its example."""
    try:
        return profile_labels(row.direction)
    except space.DirectionError as exc:
        raise space.DirectionError(f"test example {row.example_id!r} (row {row.Index}), column 'direction': {exc}") from None


def mode_table(scores: pd.DataFrame, beta: float) -> pd.DataFrame:
    """Test accuracy of the aligner and every baseline (metrics.methods) per persona mode: mode, <method>..., n."""
    methods = metrics.methods(scores)
    frames = [metrics.grouped_accuracy(scores, method(scores, beta), "mode").rename(columns={"accuracy": name})
              for name, method in methods.items()]
    out = frames[0]
    for frame in frames[1:]:
        out = out.merge(frame.drop(columns="n"), on="mode")
    return out[["mode", *methods, "n"]]


def bootstrap(p: EvaluateConfig) -> Bootstrap:
    """The cluster bootstrap of the `evaluate` params: resamples, interval level, seed."""
    return Bootstrap(resamples=p.bootstrap_resamples, level=p.interval_level, seed=p.seed)


def measure(ev: Evaluator, frames: dict[str, pd.DataFrame], p: EvaluateConfig) -> tuple[AlignerResults, dict]:
    """Every measurement of one aligner on loaded eval sets (`frames`, `test` among them) with the `evaluate`
    params `p`. Returns the results and the per-pair tables behind them (score tables with each reader's
    credit in `reader_<name>` columns, controllability and its placebo). Every figure gets its cluster-bootstrap
    interval (alignx.evaluation.intervals): each frame of `frames` gains a `cluster` column, its resampling unit."""
    boot, units = bootstrap(p), {}
    for name, frame in list(frames.items()):  # each example's resampling unit (eval_sets.clusters), one column
        ids, units[name] = eval_sets.clusters(frame)
        frames[name] = frame.assign(**{CLUSTER: ids.to_numpy()})
    tables = {name: ev.score_set(frame, name) for name, frame in frames.items()}
    test = frames["test"]
    res = AlignerResults(
        aligner=ev.aligner,
        beta=ev.beta,
        sets={name: metrics.summarize(table, ev.beta, boot) | {"ci_unit": units[name]} for name, table in tables.items()},
        by_mode=mode_table(tables["test"], ev.beta),
        robustness=ev.robustness(test, tables["test"], p.robustness_records, p.seed, boot),
        speed={},
        mode_sets={mode: metrics.summarize(group, ev.beta, boot) for mode, group in tables["test"].groupby("mode", sort=True)},
        bootstrap={"level": boot.level, "resamples": boot.resamples},
    )
    for name, frame in frames.items():
        # The readers judge exactly the pairs the aligner was scored on (score tables keep the frame's rows).
        credit = readers.credits(frame, with_markers=ev.aligner == "ica").set_axis(tables[name].index)
        correct = metrics.aligner(tables[name], ev.beta)
        where = tables[name][CLUSTER].to_numpy()
        res.readers[name] = metrics.reader_summary(credit, correct, boot, where)
        res.evidence[name] = metrics.evidence_split(credit["inferred_profile"], correct, boot, where)
        tables[name] = tables[name].join(credit.add_prefix("reader_"))
    if ev.aligner == "pba":
        res.oracle = ev.oracle(test, boot)
        flips, placebo = ev.controllability(test, p.control_pairs_per_dim, p.seed, list(p.control_dims))
        res.control, res.control_dims = metrics.controllability(flips, placebo, boot), metrics.per_dimension(flips)
        tables["controllability"], tables["controllability_placebo"] = flips, placebo
    pairs, seconds = ev.policy.pairs + ev.base.pairs, ev.policy.seconds + ev.base.seconds
    res.speed = {"pairs": pairs, "seconds": round(seconds, 2), "pairs_per_second": round(pairs / max(seconds, 1e-9), 2)}
    return res, tables
