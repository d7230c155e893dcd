"""The ablation tables (issue 13), val only (never tuned on test):

* every named DVC experiment and every commit that trained an aligner, the params it changed from its baseline
  commit, and the val accuracy of each aligner it trained (`metrics/train_<aligner>.json`);
* every run of the trainer sweeps in bench/results (`bench/mode_subsets.py`: DPO on chosen persona modes with
  `train` overrides, val on the same modes).

    .venv/bin/python bench/ablation.py [--out reports/ablation.md]      (also `make ablation`)

An experiment that trained one aligner only still carries the other's metrics file from its workspace; each
distinct file content is therefore credited to the earliest experiment (or commit) that holds it, and shown as
"-" elsewhere.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ALIGNERS = ("ica", "pba")


def flatten(doc: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def rows(show: list[dict]) -> list[dict]:
    """One row per commit and per named experiment: name, baseline, timestamp, params, train metrics."""
    out = []
    for commit in show:
        if commit["rev"] == "workspace" or not commit.get("data"):
            continue
        base = {"name": commit.get("name") or commit["rev"][:7], "baseline": None, **_facts(commit["data"])}
        out.append(base)
        for exp in commit.get("experiments") or []:
            rev = exp["revs"][0]
            if rev.get("data") and rev.get("name") and rev["rev"] != "workspace":  # a running one is not a result
                out.append({"name": rev["name"], "baseline": base, **_facts(rev["data"])})
    return out


def _facts(data: dict) -> dict:
    params = flatten(data.get("params", {}).get("params.yaml", {}).get("data", {}))
    files = data.get("metrics", {})
    metrics = {a: files.get(f"metrics/train_{a}.json", {}).get("data") for a in ALIGNERS}
    evaluation = {a: files.get(f"metrics/{a}.json", {}).get("data") for a in ALIGNERS}
    return {"timestamp": data.get("timestamp") or "", "params": params, "metrics": metrics, "evaluation": evaluation}


def table(all_rows: list[dict]) -> list[str]:
    owner: dict[str, str] = {}  # metrics file content -> the earliest row that holds it
    for row in sorted(all_rows, key=lambda r: r["timestamp"]):
        for a in ALIGNERS:
            if row["metrics"][a]:
                owner.setdefault(json.dumps(row["metrics"][a], sort_keys=True), row["name"])
    lines = ["| experiment | baseline | changed params | ICA val | PBA val |", "|---|---|---|---:|---:|"]
    for row in all_rows:
        base = row["baseline"]
        if base is None and not any(row["metrics"].values()):
            continue  # a commit trained nothing: only its experiments are rows
        changed = ([f"`{k}={v}`" for k, v in sorted(row["params"].items()) if base["params"].get(k) != v]
                   if base else ["(the commit's params.yaml)"])
        cells = []
        for a in ALIGNERS:
            m = row["metrics"][a]
            own = m and owner.get(json.dumps(m, sort_keys=True)) == row["name"]
            cells.append(f"{m['val/accuracy'] * 100:.1f}" if own and "val/accuracy" in m else "-")
        if cells == ["-"] * len(ALIGNERS):
            continue  # its metrics files are an earlier row's: it trained nothing new
        lines.append(f"| {row['name']} | {base['name'] if base else 'commit'} | {', '.join(changed) or '(none)'} | "
                     f"{cells[0]} | {cells[1]} |")
    return lines


def sweep_table(results: Path) -> list[str]:
    """One row per `bench/mode_subsets.py` run saved under `results`, oldest file first."""
    lines = ["| results file | aligner | persona modes | `train` overrides | steps | val loss | val accuracy (pairs) |",
             "|---|---|---|---|---:|---:|---:|"]
    for path in sorted(results.glob("mode_subsets-*.json")):
        for run in json.loads(path.read_text())["runs"]:
            overrides = ", ".join(f"`{k}={v}`" for k, v in run["overrides"].items() if k != "threads") or "(none)"
            lines.append(f"| {path.stem} | {run['aligner']} | {run['modes']} | {overrides} | {run['steps']} | "
                         f"{run['val_loss']:.3f} | {run['val_accuracy'] * 100:.1f} ({run['val_examples']}) |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="reports/ablation.md")
    parser.add_argument("--results", default=str(Path(__file__).parent / "results"), help="bench results folder")
    args = parser.parse_args()
    dvc = str(Path(sys.executable).parent / "dvc")
    shown = json.loads(subprocess.run([dvc, "exp", "show", "--json", "--all-commits"], check=True,
                                      capture_output=True, text=True).stdout)
    lines = ["# Ablations on val", "", "Named DVC experiments (`dvc exp show --all-commits`), written by "
             "`bench/ablation.py`; val accuracy in % (1,000 val pairs: about +-1.5 points of sampling noise).", "",
             *table(rows(shown)), "",
             "## Trainer sweeps", "",
             "`bench/mode_subsets.py` runs of the pipeline's DPO trainer on the cached `reference` outputs, one per row "
             "of its results files: the aligner's `train` params (params.yaml of the commit that ran it; the steps "
             "column says how long it trained) with the overrides shown (`threads` omitted: it does not change "
             "results), trained on the persona modes shown and validated on the same modes.", "",
             *sweep_table(Path(args.results)), "",
             "Named experiments of earlier sessions whose refs no longer exist locally (`dvc exp` keeps them in the "
             "clone that ran them) are in this file's git history (`git log -p reports/ablation.md`)."]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
