"""Stage `vpl`: the VPL baseline (alignx.vpl) trained on the train split (val chooses the epoch), saved and gated,
and its rewards of every eval set's examples (test, novel, each benchmark) as each aligner's examples show them,
with their gate and VPL's accuracy per eval set and persona mode.

A top-level module like `generate_stage`: it wires `alignx.vpl` (below `evaluation` in the layers: `evaluate`
reads its scores as a baseline) to the eval sets of `alignx.evaluation`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import great_expectations.expectations as gxe
import numpy as np
import pandas as pd
import torch

from alignx.config import FormatConfig, VplConfig
from alignx.contracts import ALIGNERS, BASE_DIR, FORMAT_DIR, MAX_ITEMS, PAIRS_DIR
from alignx.evaluation import eval_sets
from alignx.inputs.examples import iter_records
from alignx.modeling.model import device_of, load_hf, stored_dtype
from alignx.modeling.tokenizer import pad_id
from alignx.pipeline import gates
from alignx.vpl import contexts, features, model, training

EXAMPLE_COLUMNS = ["example_id", "record_id", "mode", "n_pair"]
SCORE_COLUMNS = ["example_id", "record_id", "mode", "n_context", "vpl_chosen", "vpl_rejected"]


@dataclass
class EvalSet:
    """One eval set as one aligner's examples show it: the examples (in evaluate's order) and their pairs."""

    aligner: str
    name: str
    examples: pd.DataFrame
    pairs: contexts.PairSet


def train_records(cfg: VplConfig, pairs_dir: Path = PAIRS_DIR) -> list[dict]:
    """The train split's records, or those of a seeded sample of `cfg.train_users` users."""
    path = pairs_dir / "train.parquet"
    if not path.exists():
        raise eval_sets.EvalInputError(f"{path}: not found (run `dvc repro pairs`)")
    records = [r for chunk in iter_records(path) for r in chunk]
    users = sorted({str(r["user_id"]) for r in records})
    if 0 < cfg.train_users < len(users):
        keep = set(np.random.default_rng(cfg.seed).choice(users, cfg.train_users, replace=False).tolist())
        records = [r for r in records if str(r["user_id"]) in keep]
    return records


def _examples(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise eval_sets.EvalInputError(f"{path}: not found (run `dvc repro` for the stage that writes it)")
    frame = pd.read_parquet(path)
    missing = [c for c in EXAMPLE_COLUMNS if c not in frame.columns]
    if missing:
        raise eval_sets.EvalInputError(f"{path}: lacks column(s) {missing}")
    return frame[EXAMPLE_COLUMNS]


def val_set(fmt: FormatConfig, pairs_dir: Path = PAIRS_DIR, format_dir: Path = FORMAT_DIR) -> EvalSet:
    """The val split as ICA's val examples show it (the model-selection set)."""
    examples = _examples(format_dir / "ica" / "val.parquet")
    records = pd.read_parquet(pairs_dir / "val.parquet")
    return EvalSet("ica", "val", examples, contexts.example_pair_set(examples, records, "ica", fmt))


def load_eval_sets(splits: list[str], benchmark_files: Mapping[str, str], fmt: FormatConfig) -> list[EvalSet]:
    """Every eval set of `evaluate` (its splits and benchmarks) for each aligner, examples in evaluate's order; an
    empty set other than `test` is skipped, as evaluate skips it."""
    out = []
    for aligner in ALIGNERS:
        for name, (files, _) in eval_sets.eval_sets(aligner, splits, dict(benchmark_files)).items():
            examples = _examples(files["examples"])
            if examples.empty:
                if name == "test":
                    raise eval_sets.EvalInputError(f"{files['examples']}: no examples; the test split is required")
                print(f"vpl: eval set {name!r} of {aligner} has no examples: skipped")
                continue
            records = pd.read_parquet(files["records"])
            out.append(EvalSet(aligner, name, examples, contexts.example_pair_set(examples, records, aligner, fmt)))
    return out


@dataclass
class Inputs:
    """What the stage reads: the train pairs (all PAIR items of a record as its context pool), how many users
    they come from, the val set and every eval set."""

    train: contexts.PairSet
    users: int
    val: EvalSet
    sets: list[EvalSet]

    def texts(self) -> list[features.Text]:
        """Every text training, model selection and scoring read (with repeats: `features.embed` keeps each once)."""
        return self.train.texts() + self.val.pairs.texts() + [t for es in self.sets for t in es.pairs.texts()]

    def summary(self) -> str:
        return (f"vpl: {len(self.train)} train pairs of {self.users} users, {len(self.val.pairs)} val pairs, "
                f"{len(self.sets)} eval sets, {len(set(self.texts()))} distinct texts to embed")


def load_inputs(cfg: VplConfig, fmt: FormatConfig, splits: list[str], benchmark_files: Mapping[str, str]) -> Inputs:
    """The train records (`cfg.train_users` sample), val as ICA's val examples show it, and every eval set."""
    records = train_records(cfg)
    return Inputs(contexts.pair_set(records), len({r["user_id"] for r in records}), val_set(fmt),
                  load_eval_sets(splits, benchmark_files, fmt))


def trained_facts(inputs: Inputs, result: training.FitResult, table: features.FeatureTable, cfg: VplConfig) -> dict:
    """What the model was trained on and kept (saved in vpl.json, reported in metrics/vpl.json)."""
    return {"pairs": len(inputs.train), "users": inputs.users, "epochs": cfg.epochs, "best_epoch": result.best_epoch,
            "feature_dim": table.dim, "texts_embedded": len(table.index)}


def embed(texts: list[features.Text], cfg: VplConfig) -> features.FeatureTable:
    """Features of every distinct text under the frozen base model (models/base, its stored precision)."""
    base, tokenizer = load_hf(BASE_DIR, stored_dtype(BASE_DIR))
    base = base.to(device_of(cfg.device))
    return features.embed(base, tokenizer, texts, cfg.feature_batch, cfg.max_tokens, pad_id(tokenizer))


def fit(table: features.FeatureTable, train: contexts.PairSet, val: EvalSet, cfg: VplConfig) -> training.FitResult:
    """VPL trained on the train pairs, the epoch chosen on val."""
    return training.fit(table.features, contexts.index(train, table), contexts.index(val.pairs, table), cfg)


def score(net: model.VPLNet, table: features.FeatureTable, es: EvalSet) -> pd.DataFrame:
    """VPL's rewards of one eval set's examples (SCORE_COLUMNS, the examples' order)."""
    rows = contexts.index(es.pairs, table)
    chosen, rejected = training.score(net, torch.from_numpy(table.features), rows)
    out = es.examples[["example_id", "record_id", "mode"]].reset_index(drop=True).copy()
    out["n_context"] = rows.n_context.astype(np.int32)
    out["vpl_chosen"], out["vpl_rejected"] = chosen, rejected
    return out[SCORE_COLUMNS]


def write_model(tmp: Path, result: training.FitResult, trained: dict) -> None:
    """The kept network in `tmp` (safetensors + vpl.json with what it was trained on and its val accuracy)."""
    model.save(result.net, tmp, {**trained, "val_accuracy": result.val_accuracy})


def gate_model(tmp: Path, table: features.FeatureTable, val: EvalSet, cfg: VplConfig) -> gates.GateResult:
    """The saved model loads (safetensors + JSON), its weights are finite, and its val accuracy reaches the floor."""
    row = {"loads": True, "error": "", "finite": False, "val_accuracy": 0.0}
    try:
        net, _ = model.load(tmp)
        row["finite"] = all(bool(torch.isfinite(t).all()) for t in net.state_dict().values())
        row["val_accuracy"] = training.accuracy(net, torch.from_numpy(table.features), contexts.index(val.pairs, table))
    except Exception as exc:  # reported by the gate with the folder named, not as a bare traceback
        row.update(loads=False, error=f"{tmp}: {type(exc).__name__}: {exc}")
    return gates.check("vpl_model", pd.DataFrame([row]), [
        gxe.ExpectColumnValuesToBeInSet(column="loads", value_set=[True]),
        gates.all_true("finite"),
        gxe.ExpectColumnValuesToBeBetween(column="val_accuracy", min_value=cfg.min_val_accuracy, max_value=1),
    ])


def write_scores(tmp: Path, tables: Mapping[tuple[str, str], pd.DataFrame]) -> None:
    """`<tmp>/<aligner>/<eval set>.parquet` for every scored eval set."""
    for (aligner, name), table in tables.items():
        (tmp / aligner).mkdir(parents=True, exist_ok=True)
        table.to_parquet(tmp / aligner / f"{name}.parquet", index=False)


def gate_scores(tmp: Path, sets: list[EvalSet]) -> list[gates.GateResult]:
    """Each eval set's file holds one row per example, in the examples' order, finite rewards, 0-4 context pairs."""
    results = []
    for es in sets:
        path = tmp / es.aligner / f"{es.name}.parquet"
        table = pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=SCORE_COLUMNS)
        expected = es.examples["example_id"].to_numpy()
        facts = pd.DataFrame({
            "same_examples": [len(table) == len(expected) and bool((table["example_id"].to_numpy() == expected).all())],
            "finite": [bool(np.isfinite(table[["vpl_chosen", "vpl_rejected"]].to_numpy(dtype=float)).all())],
            "n_context_max": [int(table["n_context"].max()) if len(table) else 0],
            "rows": [len(table)],
        })
        results.append(gates.check(f"vpl_scores_{es.aligner}_{es.name}", facts, [
            gxe.ExpectColumnValuesToBeBetween(column="rows", min_value=1),
            gates.all_true("same_examples"),
            gates.all_true("finite"),
            gxe.ExpectColumnValuesToBeBetween(column="n_context_max", min_value=0, max_value=MAX_ITEMS),
        ]))
    return results


def _accuracy(table: pd.DataFrame) -> dict[str, float | int]:
    correct = table["vpl_chosen"] > table["vpl_rejected"]
    return {"accuracy": float(correct.mean()) if len(table) else float("nan"), "n": int(len(table))}


def metrics_document(tables: Mapping[tuple[str, str], pd.DataFrame], result: training.FitResult,
                     trained: Mapping[str, float | int]) -> dict:
    """metrics/vpl.json: per aligner's examples and eval set, accuracy and n overall, per persona mode and by
    whether any context pair was shown (`with_context` / `prior`); the val accuracy kept and the training figures."""
    doc: dict = {"val": {"accuracy": result.val_accuracy, "best_epoch": result.best_epoch}, "train": dict(trained)}
    for (aligner, name), table in tables.items():
        entry = _accuracy(table)
        entry["by_mode"] = {m: _accuracy(g) for m, g in table.groupby("mode", sort=True)}
        entry["with_context"] = _accuracy(table[table["n_context"] > 0])
        entry["prior"] = _accuracy(table[table["n_context"] == 0])
        doc.setdefault(aligner, {})[name] = entry
    return _nan_to_none(doc)


def _nan_to_none(obj):
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    return None if isinstance(obj, float) and math.isnan(obj) else obj


def write_metrics(tmp: Path, doc: dict) -> None:
    tmp.write_text(json.dumps(doc, indent=2) + "\n")


def gate_metrics(tmp: Path, _written: object = None) -> gates.GateResult:
    """Every accuracy in metrics/vpl.json is a fraction; both aligners' test sets were measured."""
    doc = json.loads(tmp.read_text())
    rows = [(f"{a}.{name}.{key}", v["accuracy"]) for a in ALIGNERS for name, entry in doc.get(a, {}).items()
            for key, v in [("all", entry), *entry["by_mode"].items()] if v["accuracy"] is not None]
    frame = pd.DataFrame(rows, columns=["key", "accuracy"])
    return gates.check("vpl_metrics", frame, [
        gxe.ExpectColumnValuesToBeBetween(column="accuracy", min_value=0, max_value=1),
        gxe.ExpectColumnDistinctValuesToContainSet(column="key", value_set=[f"{a}.test.all" for a in ALIGNERS]),
    ])


def figures(doc: dict, result: training.FitResult, seconds: dict[str, float]) -> dict[str, float]:
    """What the stage reports to MLflow: val accuracy, training facts, each set's accuracy and times."""
    out = {"val_accuracy": result.val_accuracy, **{f"train_{k}": v for k, v in doc["train"].items()},
           **{f"seconds_{k}": round(v, 1) for k, v in seconds.items()}}
    for aligner in ALIGNERS:
        for name, entry in doc.get(aligner, {}).items():
            out[f"{aligner}.{name}.accuracy"] = entry["accuracy"]
            for mode, m in entry["by_mode"].items():
                out[f"{aligner}.{name}.{mode}.accuracy"] = m["accuracy"]
    return out


def log_curve(result: training.FitResult) -> None:
    """The loss curve and val accuracy per epoch as MLflow metrics (step = epoch) and as `vpl_curve.json`."""
    import mlflow

    mlflow.log_text(json.dumps(result.curve, indent=2), "vpl_curve.json")
    for point in result.curve:
        mlflow.log_metrics({f"curve.{k}": v for k, v in point.items() if k != "epoch"}, step=int(point["epoch"]))
