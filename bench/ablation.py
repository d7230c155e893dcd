"""The ablation table (issue 13): every named DVC experiment, the params it changed from its baseline commit, and
the val accuracy of each aligner it trained (`metrics/train_<aligner>.json`). Val only: never tuned on test.

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
        lines.append(f"| {row['name']} | {base['name'] if base else 'commit'} | {', '.join(changed) or '(none)'} | "
                     f"{cells[0]} | {cells[1]} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="reports/ablation.md")
    args = parser.parse_args()
    dvc = str(Path(sys.executable).parent / "dvc")
    shown = json.loads(subprocess.run([dvc, "exp", "show", "--json", "--all-commits"], check=True,
                                      capture_output=True, text=True).stdout)
    lines = ["# Ablations on val", "", "Named DVC experiments (`dvc exp show --all-commits`), written by "
             "`bench/ablation.py`; val accuracy in % (1,000 val pairs: about +-1.5 points of sampling noise).", "",
             *table(rows(shown))]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
