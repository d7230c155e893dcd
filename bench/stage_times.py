"""Per-stage wall times of the latest `dvc repro` / `dvc exp run`, read from MLflow (the pipeline's parent run
and its stage runs), with the total and the gaps between stages (process start-up, Prefect, DVC hashing).

    .venv/bin/python bench/stage_times.py [--tracking-uri sqlite:///mlflow.db] [--run <parent run id> | --exp <name>]

`--exp smollm2`: the latest run of the named DVC experiment (`make pipeline-smollm2`).
"""

from __future__ import annotations

import argparse

from mlflow import MlflowClient

PIPELINE_TAG = "alignx.pipeline"  # alignx.pipeline.tracking tags each parent run with it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", default="sqlite:///mlflow.db")
    parser.add_argument("--run", default="", help="parent run id (default: the latest pipeline run)")
    parser.add_argument("--exp", default="", help="the latest pipeline run of this named DVC experiment")
    args = parser.parse_args()
    print("\n".join(stage_times(args.tracking_uri, args.run, args.exp)))


def stage_times(tracking_uri: str, run: str = "", exp: str = "") -> list[str]:
    """Markdown lines: the pipeline run, a table of its stage runs' wall times, and the total and gaps."""
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("alignx")
    if experiment is None:
        raise SystemExit(f"{tracking_uri}: no experiment 'alignx' (run the pipeline first)")
    if run:
        parent = client.get_run(run)
    else:
        which = f"tags.`{PIPELINE_TAG}` LIKE '%'" + (f" AND tags.`dvc.experiment` = '{exp}'" if exp else "")
        found = client.search_runs([experiment.experiment_id], filter_string=which,
                                   order_by=["attributes.start_time DESC"], max_results=1)
        if not found:
            raise SystemExit(f"no pipeline run found{f' for experiment {exp!r}' if exp else ''} "
                             "(stage runs nest under one only under `dvc repro` / `dvc exp run`)")
        parent = found[0]
    stages = client.search_runs([experiment.experiment_id],
                                filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
                                order_by=["attributes.start_time ASC"], max_results=1000)
    lines = [f"pipeline run {parent.info.run_id} ({parent.info.run_name}), {len(stages)} stage runs", "",
             "| stage | status | seconds |", "|---|---|---:|"]
    for stage_run in stages:
        seconds = ((stage_run.info.end_time or stage_run.info.start_time) - stage_run.info.start_time) / 1000
        name = stage_run.data.tags.get("alignx.pipeline.stage", stage_run.info.run_name)
        lines.append(f"| {name} | {stage_run.info.status} | {seconds:.0f} |")
    if stages:
        first, last = stages[0].info.start_time, max(r.info.end_time or r.info.start_time for r in stages)
        inside = sum(((r.info.end_time or r.info.start_time) - r.info.start_time) for r in stages) / 1000
        span = (last - first) / 1000
        lines += ["", f"first stage start to last stage end: {span / 60:.1f} min; inside stage runs: {inside / 60:.1f} "
                  f"min; between them (process start, Prefect, DVC): {(span - inside) / 60:.1f} min"]
    return lines


if __name__ == "__main__":
    main()
