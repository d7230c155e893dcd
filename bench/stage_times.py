"""Per-stage wall times of the latest `dvc repro` / `dvc exp run`, read from MLflow (the pipeline's parent run
and its stage runs), with the total and the gaps between stages (process start-up, Prefect, DVC hashing).

    .venv/bin/python bench/stage_times.py [--tracking-uri sqlite:///mlflow.db] [--run <parent run id>]
"""

from __future__ import annotations

import argparse

from mlflow import MlflowClient

PIPELINE_TAG = "alignx.pipeline"  # alignx.pipeline.tracking tags each parent run with it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", default="sqlite:///mlflow.db")
    parser.add_argument("--run", default="", help="parent run id (default: the latest pipeline run)")
    args = parser.parse_args()
    client = MlflowClient(args.tracking_uri)
    experiment = client.get_experiment_by_name("alignx")
    if experiment is None:
        raise SystemExit(f"{args.tracking_uri}: no experiment 'alignx' (run the pipeline first)")
    if args.run:
        parent = client.get_run(args.run)
    else:
        found = client.search_runs([experiment.experiment_id], filter_string=f"tags.`{PIPELINE_TAG}` LIKE '%'",
                                   order_by=["attributes.start_time DESC"], max_results=1)
        if not found:
            raise SystemExit("no pipeline run found (stage runs nest under one only under `dvc repro`)")
        parent = found[0]
    stages = client.search_runs([experiment.experiment_id],
                                filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
                                order_by=["attributes.start_time ASC"], max_results=1000)
    print(f"pipeline run {parent.info.run_id} ({parent.info.run_name}), {len(stages)} stage runs\n")
    print("| stage | status | seconds |\n|---|---|---:|")
    for run in stages:
        seconds = ((run.info.end_time or run.info.start_time) - run.info.start_time) / 1000
        print(f"| {run.data.tags.get('alignx.pipeline.stage', run.info.run_name)} | {run.info.status} | {seconds:.0f} |")
    if stages:
        first, last = stages[0].info.start_time, max(r.info.end_time or r.info.start_time for r in stages)
        inside = sum(((r.info.end_time or r.info.start_time) - r.info.start_time) for r in stages) / 1000
        span = (last - first) / 1000
        print(f"\nfirst stage start to last stage end: {span / 60:.1f} min; inside stage runs: {inside / 60:.1f} min; "
              f"between them (process start, Prefect, DVC): {(span - inside) / 60:.1f} min")


if __name__ == "__main__":
    main()
