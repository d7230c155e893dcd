"""The `generate@<aligner>` measurements: responses of the aligner and both baselines, judged with known truth.

    systems      aligner            the aligner on its evaluation input (`data/eval/splits/format/<aligner>`)
                 base_persona       the base model on the same input (the paper's prompted few-shot baseline)
                 base_no_persona    the base model on the post alone
    sets         test / novel       a seeded sample of `generate.records[split]` eval examples
                 control (PBA)      the test example's profile with one dimension's label set positive, then
                                    negative (the other labels as the example shows them: its inferred profile),
                                    same seed for both; plus the positive profile resampled with another seed,
                                    the noise floor of "the other dimensions moved"
                 contrast           the same post for two test users with opposite preferences, aligner only

Every response is read back by the known-truth judge (`alignx.generation.judge`) and scored against the user's
true preference vector (`data/personas/users.parquet`); win rates compare the aligner's utility with a
baseline's on the same record (ties count half).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alignx import space
from alignx.generation import judge
from alignx.generation.decoding import Generation, Sampling, generate, perplexity
from alignx.generation.serving import render
from alignx.inputs import prompts
from alignx.inputs.examples import profile_labels
from alignx.modeling.tokenizer import pad_id

SYSTEMS = ("aligner", "base_persona", "base_no_persona")
BASELINES = ("base_persona", "base_no_persona")
COLUMNS = ["set", "system", "record_id", "user_id", "mode", "control_dim", "control_sign", "response", "n_tokens",
           "ended", "n_cut", "sentences", "unknown_chars", "conflicts", "parses", "well_formed", "intensity",
           "utility", "perplexity"]  # fmt: skip


@dataclass
class Generator:
    """The two models, the tokenizer and the decoding settings every measurement shares."""

    aligner: str
    policy: Any
    base: Any
    tokenizer: Any
    sampling: Sampling
    seed: int
    max_len: int
    batch_size: int
    thresholds: tuple[float, float]  # PBA profile inference (params `space`: positive, negative)

    def __post_init__(self) -> None:
        self.tokens, self.seconds = 0.0, 0.0

    @property
    def max_prompt_len(self) -> int:
        return self.max_len - self.sampling.max_new_tokens

    def run(self, model: Any, prompt_ids: list[list[int]], desc: str, seed_offset: int = 0) -> list[Generation]:
        outs, speed = generate(model, self.tokenizer, prompt_ids, self.sampling, self.seed + seed_offset,
                               self.max_prompt_len, self.batch_size, desc=desc)
        self.tokens += speed["new_tokens"]
        self.seconds += speed["seconds"]
        print(f"{desc}: {len(outs)} responses, {speed['new_tokens']:.0f} tokens in {speed['seconds']:.1f} s "
              f"({speed['tokens_per_second']:.0f} tokens/s)")
        return outs

    def plain_ids(self, posts: list[str]) -> list[list[int]]:
        return [prompts.encode_prompt(self.tokenizer, prompts.wrap_prompt(self.tokenizer, prompts.render_plain(p)))
                for p in posts]

    def judged(self, outs: list[Generation], rows: pd.DataFrame, **columns: Any) -> pd.DataFrame:
        """One row per response: the judge's reading, utility for the row's user, perplexity under the base
        (given the post alone: fluency, whatever the persona)."""
        reads = [judge.read_response(g.text) for g in outs]
        users = rows["user_direction"].tolist()
        ppl = perplexity(self.base, self.plain_ids(rows["prompt"].tolist()), [g.response_ids for g in outs],
                         self.tokenizer.eos_token_id, pad_id(self.tokenizer), self.batch_size)
        frame = pd.DataFrame({
            "record_id": rows["record_id"].astype(str).to_numpy(), "user_id": rows["user_id"].astype(str).to_numpy(),
            "mode": rows["mode"].astype(str).to_numpy(), "control_dim": -1, "control_sign": 0,
            "response": [g.text for g in outs], "n_tokens": [len(g.response_ids) for g in outs],
            "ended": [g.ended for g in outs], "n_cut": [g.n_cut for g in outs],
            "sentences": [len(r.sentences) for r in reads], "unknown_chars": [r.unknown_chars for r in reads],
            "conflicts": [r.conflicts for r in reads], "parses": [r.parses for r in reads],
            "intensity": [r.intensity.astype(np.int64).tolist() for r in reads],
            "utility": [float(judge.utility(r.intensity, u)) if _known(u) else np.nan for r, u in zip(reads, users)],
            "perplexity": ppl,
        })
        frame["well_formed"] = frame["ended"] & frame["parses"] & (frame["response"].str.len() > 0)
        for key, value in columns.items():
            frame[key] = value
        return frame[COLUMNS]

    def systems(self, rows: pd.DataFrame, name: str) -> pd.DataFrame:
        """The three systems' responses to `rows` (loaded eval examples)."""
        persona_ids = [list(p) for p in rows["prompt_ids"]]
        frames = [
            self.judged(self.run(self.policy, persona_ids, f"{name}: aligner"), rows, set=name, system="aligner"),
            self.judged(self.run(self.base, persona_ids, f"{name}: base + persona"), rows, set=name,
                        system="base_persona"),
            self.judged(self.run(self.base, self.plain_ids(rows["prompt"].tolist()), f"{name}: base, no persona"),
                        rows, set=name, system="base_no_persona"),
        ]
        return pd.concat(frames, ignore_index=True)

    def control(self, rows: pd.DataFrame, dims: list[int]) -> pd.DataFrame:
        """PBA: each row x each dim with the dim's label positive, negative, and positive resampled."""
        pairs = [(r, d) for _, r in rows.iterrows() for d in dims]
        if not pairs:
            return pd.DataFrame(columns=COLUMNS)
        table = pd.DataFrame([r for r, _ in pairs]).reset_index(drop=True)
        frames = []
        for sign, offset, system in ((1, 0, "aligner"), (-1, 0, "aligner"), (1, 7919, "aligner_resampled")):
            ids = []
            for row, dim in pairs:
                shown = row["shown_profile"]
                vector = [space.NEUTRAL] * space.N_DIMS if shown is None else [float(v) for v in shown]
                vector[dim] = space.POSITIVE if sign > 0 else space.NEGATIVE
                text = prompts.render_pba(", ".join(profile_labels(vector)), row["prompt"])
                ids.append(prompts.encode_prompt(self.tokenizer, prompts.wrap_prompt(self.tokenizer, text)))
            outs = self.run(self.policy, ids, f"control: label {'+' if sign > 0 else '-'}"
                            + (" (resampled)" if offset else ""), seed_offset=offset)
            frame = self.judged(outs, table, set="control", system=system, control_sign=sign)
            frame["control_dim"] = [d for _, d in pairs]
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def contrast(self, test: pd.DataFrame, n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, list[dict]]:
        """`n` posts, each answered by the aligner for its own user and for the test user whose true preferences
        are most opposite (most negative agreement over both users' dimensions); both users' histories rendered
        whole (`serving.render`)."""
        users = test[test["user_direction"].map(_known)].drop_duplicates("user_id").reset_index(drop=True)
        if n < 1 or len(users) < 2:
            return pd.DataFrame(columns=COLUMNS), []
        prefs = np.stack([judge.preference(v) for v in users["user_direction"]]).astype(np.int32)
        agreement = prefs @ prefs.T
        np.fill_diagonal(agreement, np.iinfo(np.int32).max)
        # The users whose most opposite partner disagrees most (ties in a seeded random order), one post each.
        order = rng.permutation(len(users))
        picks = order[np.argsort(agreement.min(axis=1)[order], kind="stable")][:n]
        rows, examples = [], []
        for a in picks:
            b = int(np.argmin(agreement[a]))
            post = users.loc[a, "prompt"]
            for who in (a, b):
                rows.append({**users.loc[who].to_dict(), "prompt": post, "mode": "whole"})
            examples.append({"post": post, "users": [str(users.loc[a, "user_id"]), str(users.loc[b, "user_id"])],
                             "agreement": int(agreement[a, b]), "opposed": int((prefs[a] * prefs[b] < 0).sum())})
        rows = pd.DataFrame(rows).reset_index(drop=True)
        ids = [render(r, self.aligner, self.tokenizer, self.max_len, self.thresholds, i,
                      response_budget=self.sampling.max_new_tokens).prompt_ids for i, r in rows.iterrows()]
        frame = self.judged(self.run(self.policy, ids, "contrast: aligner"), rows, set="contrast", system="aligner")
        for k, example in enumerate(examples):
            both = frame.iloc[2 * k : 2 * k + 2]
            example["responses"] = both["response"].tolist()
            example["profiles"] = [space.verbalize(rows.loc[2 * k + j, "user_direction"]) for j in range(2)]
            # utility[i][j]: response i judged for user j (each user's own response should fit them better)
            example["utility"] = [[judge.utility(np.asarray(both.iloc[i]["intensity"]), rows.loc[2 * k + j, "user_direction"])
                                   for j in range(2)] for i in range(2)]
        return frame, examples


def _known(direction: Any) -> bool:
    """A user's true vector is known (imported data and users missing from users.parquet have none)."""
    return direction is not None and not (isinstance(direction, float) and np.isnan(direction))


def sample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """A seeded sample of `n` rows (all when fewer), in the frame's order."""
    if n <= 0 or n >= len(frame):
        return frame.reset_index(drop=True)
    idx = np.sort(np.random.default_rng(seed).choice(len(frame), size=n, replace=False))
    return frame.iloc[idx].reset_index(drop=True)


def control_dims(n: int, seed: int, exclude: tuple[int, ...] = ()) -> list[int]:
    """`n` seeded dimensions for the controllability probe (none of `exclude`, e.g. the novel dimensions)."""
    pool = [d for d in range(space.N_DIMS) if d not in set(exclude)]
    if n <= 0:
        return []
    return sorted(np.random.default_rng(seed).choice(pool, size=min(n, len(pool)), replace=False).tolist())


# --- summaries -------------------------------------------------------------------------------------------


def win_rate(generations: pd.DataFrame, baseline: str, where: pd.Series | None = None) -> dict[str, float]:
    """The aligner against `baseline` on the same records: wins + ties / 2 over n (known-truth utilities)."""
    frame = generations if where is None else generations[where]
    ours = frame[frame["system"] == "aligner"].set_index("record_id")["utility"]
    theirs = frame[frame["system"] == baseline].set_index("record_id")["utility"]
    both = pd.concat([ours.rename("a"), theirs.rename("b")], axis=1, join="inner").dropna()
    if both.empty:
        return {"win_rate": float("nan"), "wins": 0, "ties": 0, "losses": 0, "n": 0}
    wins, ties = int((both["a"] > both["b"]).sum()), int((both["a"] == both["b"]).sum())
    return {"win_rate": (wins + ties / 2) / len(both), "wins": wins, "ties": ties,
            "losses": len(both) - wins - ties, "n": int(len(both))}


def system_table(generations: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per system (test and novel sets): well-formed share and its parts, mean utility, perplexity, length."""
    out = {}
    main = generations[generations["set"].isin(["test", "novel"])]
    for system, frame in main.groupby("system"):
        out[system] = {
            "well_formed": float(frame["well_formed"].mean()), "ended": float(frame["ended"].mean()),
            "parses": float(frame["parses"].mean()), "non_empty": float((frame["n_tokens"] > 0).mean()),
            # share of the responses' characters inside known sentences of the banks (a softer fluency figure)
            "known_chars": float(1 - frame["unknown_chars"].sum() / max(1, frame["response"].str.len().sum())),
            "utility_mean": float(frame["utility"].mean()),
            # dimensions a response expresses (recognised markers), and the share of responses whose utility is
            # not 0 (a response that expresses none of the user's dimensions can only tie)
            "markers_mean": float(frame["intensity"].map(np.count_nonzero).mean()),
            "utility_nonzero": float((frame["utility"].dropna() != 0).mean()) if frame["utility"].notna().any() else float("nan"), "perplexity_median": float(frame["perplexity"].median()),
            "perplexity_mean": float(frame["perplexity"].mean()), "tokens_mean": float(frame["n_tokens"].mean()),
            "n": int(len(frame)),
        }
    return out


def control_summary(generations: pd.DataFrame) -> dict[str, float] | None:
    """Share of (prompt, dim) cases whose judged intensity of the dim follows its label under both polarities
    (and under each), and how much the OTHER dimensions changed between the two: mean |delta intensity| per other
    dimension and the mean count changed, against the same figures for a resample of the positive profile."""
    frame = generations[generations["set"] == "control"]
    if frame.empty:
        return None
    key = ["record_id", "control_dim"]
    pos = frame[(frame["system"] == "aligner") & (frame["control_sign"] == 1)].set_index(key)
    neg = frame[(frame["system"] == "aligner") & (frame["control_sign"] == -1)].set_index(key)
    res = frame[frame["system"] == "aligner_resampled"].set_index(key)
    neg, res = neg.loc[pos.index], res.loc[pos.index]
    dims = np.array([d for _, d in pos.index])
    ip, ineg, ires = (np.stack(f["intensity"].map(np.asarray).to_list()) for f in (pos, neg, res))
    rows = np.arange(len(dims))
    follows_pos, follows_neg = ip[rows, dims] == 1, ineg[rows, dims] == -1
    others = np.ones_like(ip, dtype=bool)
    others[rows, dims] = False
    change = np.abs(ip - ineg)[others].reshape(len(dims), -1)
    noise = np.abs(ip - ires)[others].reshape(len(dims), -1)
    return {
        "follows": float((follows_pos & follows_neg).mean()), "follows_positive": float(follows_pos.mean()),
        "follows_negative": float(follows_neg.mean()),
        "expressed": float(((ip[rows, dims] != 0) | (ineg[rows, dims] != 0)).mean()),
        "others_abs_change": float(change.mean()), "others_changed": float((change > 0).sum(axis=1).mean()),
        "others_abs_change_resample": float(noise.mean()), "others_changed_resample": float((noise > 0).sum(axis=1).mean()),
        "n": int(len(dims)), "dims": int(len(set(dims.tolist()))),
    }


def summarize(generations: pd.DataFrame, examples: list[dict], speed: dict[str, float]) -> dict[str, Any]:
    """The judged summary (summary.json): win rates per set / mode, per-system figures, controllability."""
    doc: dict[str, Any] = {}
    test = generations["set"] == "test"
    for baseline in BASELINES:
        section = {"test": win_rate(generations, baseline, test)}
        for mode in sorted(generations.loc[test, "mode"].unique()):
            section[f"test_{mode}"] = win_rate(generations, baseline, test & (generations["mode"] == mode))
        section["novel"] = win_rate(generations, baseline, generations["set"] == "novel")
        # Headline (metrics key generation.vs_<baseline>.win_rate): the test split.
        doc[f"vs_{baseline}"] = {**section["test"], "by_set": section}
    doc["systems"] = system_table(generations)
    doc["well_formed"] = doc["systems"].get("aligner", {}).get("well_formed", float("nan"))
    doc["perplexity"] = doc["systems"].get("aligner", {}).get("perplexity_median", float("nan"))
    control = control_summary(generations)
    if control is not None:
        doc["controllability"] = control
    doc["speed"] = speed
    doc["examples"] = examples
    return doc
