"""The results of one named DVC experiment (a preset run, e.g. `make pipeline-smollm2`) as a Markdown report: the
params it changed, each aligner's val accuracy, its accuracy and both baselines on every eval set, and the stage
times read from MLflow.

    .venv/bin/python bench/experiment_report.py smollm2 [--out reports/smollm2.md]

Every figure comes from the experiment's own `metrics/*.json` (`dvc exp show --json`) and its MLflow runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from ablation import ALIGNERS, rows  # bench/ is on sys.path when this file runs as a script
from mlflow import MlflowClient
from stage_times import PIPELINE_TAG, stage_times

# Columns of the accuracy table: metrics keys of one eval set (alignx.evaluation.metrics.summarize).
COLUMNS = {"aligner": "aligner", "base_no_persona": "base, no persona (a)", "base_persona": "base + persona (b)",
           "vpl": "VPL (c)", "base_no_persona_per_token": "base, no persona, per token",
           "gain": "gain over best of (a), (b), (c) [95 % CI], p"}


def experiment(name: str) -> dict:
    """The latest row of `ablation.rows` named `name` (params, train and evaluation metrics)."""
    dvc = str(Path(sys.executable).parent / "dvc")
    shown = json.loads(subprocess.run([dvc, "exp", "show", "--json", "--all-commits"], check=True,
                                      capture_output=True, text=True).stdout)
    found = [r for r in rows(shown) if r["name"] == name]
    if not found:
        raise SystemExit(f"no DVC experiment named {name!r} (run `make pipeline-{name}` first)")
    return max(found, key=lambda r: r["timestamp"])


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def cell(figures: dict, key: str) -> str:
    """A figure of an eval set in % (a gain signed), with its 95 % interval and, for a gain, its p-value where the
    metrics carry them (alignx.evaluation.intervals)."""
    value = figures.get(key)
    if value is None:
        return "-"
    out = f"{100 * value:+.1f}" if key == "gain" else pct(value)
    if f"{key}_ci_low" in figures:
        out += f" [{100 * figures[f'{key}_ci_low']:.1f}, {100 * figures[f'{key}_ci_high']:.1f}]"
    if f"{key}_p_value" in figures:
        out += f", p {figures[f'{key}_p_value']:.3f}"
    return out


def report(name: str, tracking_uri: str) -> list[str]:
    row = experiment(name)
    base = row["baseline"]["params"] if row["baseline"] else {}
    changed = [f"`{k}={v}`" for k, v in sorted(row["params"].items()) if base.get(k) != v]
    lines = [f"# Experiment `{name}`", "", f"Written by `bench/experiment_report.py {name}` from the experiment's "
             f"metrics (`dvc exp show`, run of {row['timestamp']}) and its MLflow runs.", "",
             f"Params changed from {row['baseline']['name'] if row['baseline'] else 'the commit'}: {', '.join(changed)}",
             "", "## Training (val split, never tuned on test)", "",
             "| aligner | val accuracy (%) | val loss | steps | first-step loss | tokens/s |", "|---|---:|---:|---:|---:|---:|"]
    for a in ALIGNERS:
        m = row["metrics"].get(a) or {}
        lines.append(f"| {a.upper()} | {pct(m.get('val/accuracy'))} | {m.get('val/loss', '-')} | {m.get('steps', '-')} | "
                     f"{m.get('first_step_loss', '-')} | {round(m['mean/tokens_per_second']) if 'mean/tokens_per_second' in m else '-'} |")
    lines += ["", "## Accuracy (%) on every eval set", "",
              "Implicit reward beta (log pi - log pi_ref), the base model as reference; (a) and (b) are the paper's "
              "baselines, (c) the VPL reward model (stage `vpl`); intervals resample users (95 %), the p-value is the "
              "paired bootstrap's. The per-token no-persona figure is a diagnostic beside them (summed log-probs "
              "favour the shorter response).", ""]
    for a in ALIGNERS:
        doc = row["evaluation"][a]
        if not doc:
            lines += [f"{a.upper()}: no evaluation metrics in this experiment.", ""]
            continue
        sets = {"test": doc["test"], **doc.get("eval_sets", {})}
        lines += [f"### {a.upper()}", "", "| eval set | pairs | " + " | ".join(COLUMNS.values()) + " |",
                  "|---|---:|" + "---:|" * len(COLUMNS)]
        for set_name, s in sets.items():
            lines.append(f"| {set_name} | {s.get('n', '-')} | " + " | ".join(cell(s, k) for k in COLUMNS) + " |")
        lines.append("")
    lines += ["## Stage times", "", "Every pipeline run of this experiment name in MLflow, oldest first (a run that "
              "found a stage up to date has no run for it).", ""]
    for run_id in pipeline_runs(tracking_uri, name):
        lines += [*stage_times(tracking_uri, run=run_id), ""]
    return lines


def pipeline_runs(tracking_uri: str, name: str) -> list[str]:
    """Ids of the MLflow parent runs of `dvc exp run -n <name>`, oldest first."""
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("alignx")
    found = client.search_runs([experiment.experiment_id] if experiment else [],
                               filter_string=f"tags.`{PIPELINE_TAG}` LIKE '%' AND tags.`dvc.experiment` = '{name}'",
                               order_by=["attributes.start_time ASC"], max_results=100)
    return [r.info.run_id for r in found]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the DVC experiment's name (`dvc exp run -n <name>`)")
    parser.add_argument("--out", default="", help="Markdown file (default reports/<name>.md)")
    parser.add_argument("--tracking-uri", default="sqlite:///mlflow.db")
    args = parser.parse_args()
    lines = report(args.name, args.tracking_uri)
    out = Path(args.out or f"reports/{args.name}.md")
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
