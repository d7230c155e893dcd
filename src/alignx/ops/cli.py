"""`alignx run <stage>`: the single command each DVC stage calls.

The stage's Prefect flow runs in this process, or, when a Prefect server is configured (`make serve` writes
`.run/prefect.env`; or PREFECT_API_URL), through the stage's deployment on that server. In process under DVC,
the flow reports to one Prefect server shared by all stages of that `dvc` command (alignx.ops.pipeline_server).
Either way the flow runs land in the repository's Prefect database (PREFECT_HOME=<repo>/.prefect, alignx.env). The exit code
follows the flow run's final state, so a failed gate stops `dvc repro`. Under `dvc repro` / `dvc exp run`
the stage's MLflow run nests under the pipeline's parent run (alignx.pipeline.tracking).
`alignx serve | ui | stop` start and stop the Prefect server + worker and the MLflow UI (`make serve`, ...).
`alignx generate --aligner pba --record user.json` prints a personalized response of the registered aligner.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from alignx.contracts import ALIGNERS, CHAMPION, FLOWS, registered_name



def load_flow(stage: str):
    """The Prefect flow object of a stage name such as `space` or `train@ica`."""
    base = stage.split("@")[0]
    if base not in FLOWS:
        raise SystemExit(f"alignx: unknown stage {stage!r} (stages: {', '.join(FLOWS)})")
    module, attr = FLOWS[base].split(":")
    return getattr(importlib.import_module(module), attr)


def flow_kwargs(stage: str) -> dict[str, str]:
    return {"variant": stage.split("@", 1)[1]} if "@" in stage else {}


def run_stage(stage: str) -> int:
    """Run one stage (in process, or through its deployment when a server is configured) under the
    pipeline's MLflow parent run; 0 when the flow run COMPLETED, 1 otherwise."""
    from alignx.env import repo_root
    from alignx.ops import deploy, experiments
    from alignx.pipeline import tracking

    if stage.split("@")[0] not in FLOWS:
        raise SystemExit(f"alignx: unknown stage {stage!r} (stages: {', '.join(FLOWS)})")
    root = repo_root()
    if root is not None:  # folders outside the repository, reachable from DVC's experiment copies too
        experiments.link_outside(root)
    try:
        server = deploy.configured_api()
        if server:
            deploy.check_reachable(*server)
    except deploy.DeployError as exc:
        print(f"alignx: stage {stage} not run: {exc}", file=sys.stderr)
        return 1
    parent, owned = tracking.open_pipeline_run()
    if parent:
        os.environ[tracking.PARENT_RUN_ENV] = parent
    dvc = tracking.dvc_process()
    if not server and dvc is not None:
        # One Prefect server for the whole `dvc repro`, not a temporary one per stage (about 16 s each). It has no
        # UI and stops with `dvc`: no "View at" link to it (PREFECT_UI_URL empty); its database is the repository's
        # (PREFECT_HOME, alignx.env), which `make serve` shows afterwards.
        from alignx.ops import pipeline_server

        os.environ["PREFECT_API_URL"] = pipeline_server.shared_api(dvc)
        os.environ["PREFECT_UI_URL"] = ""
    code = 1
    try:
        code = run_deployed(stage, server[0]) if server else run_in_process(stage)
    finally:
        if owned:
            tracking.close_pipeline_run(parent, "FINISHED" if code == 0 else "FAILED")
    return code


def run_deployed(stage: str, api_url: str) -> int:
    """Trigger the stage's deployment from this folder, wait, print its logs and UI address."""
    from alignx.ops import deploy

    try:
        run = deploy.submit(stage, api_url, flow_kwargs(stage), deploy.forwarded_env())
    except deploy.DeployError as exc:
        print(f"alignx: stage {stage} not run: {exc}", file=sys.stderr)
        return 1
    where = f"flow run {run.name}: {deploy.ui_url(api_url, run.id)}"
    print(f"alignx: stage {stage} submitted to deployment {stage.split('@')[0]!r} ({where})", flush=True)
    run = deploy.wait(api_url, run.id, echo=lambda line: print(line, flush=True))
    state = run.state
    if state is not None and state.is_completed():
        print(f"alignx: stage {stage} {state.type.value} ({where})")
        return 0
    kind = state.type.value if state is not None else "UNKNOWN"
    message = state.message if state is not None else ""
    print(f"alignx: stage {stage} {kind} ({where})\n{message}", file=sys.stderr)
    return 1


def run_in_process(stage: str) -> int:
    """Run one stage's flow in this process; 0 when the flow run COMPLETED, 1 otherwise."""
    from alignx.env import prefect_home

    flow = load_flow(stage)
    state = flow(**flow_kwargs(stage), return_state=True)
    where = f"(flow run recorded in {prefect_home()}; browse it with `make serve`)"
    if state.is_completed():
        print(f"alignx: stage {stage} {state.type.value} {where}")
        return 0
    error = state.result(raise_on_failure=False)
    print(f"alignx: stage {stage} {state.type.value} {where}\n{error}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="alignx", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one pipeline stage (as DVC does)")
    run.add_argument("stage", help="stage name, e.g. space or train@ica")
    sub.add_parser("stages", help="list the stages")
    serve = sub.add_parser("serve", help="start a Prefect server, worker and the stage deployments (127.0.0.1)")
    serve.add_argument("--port", type=int, default=4200)
    ui = sub.add_parser("ui", help="start the MLflow UI on the project's store (127.0.0.1)")
    ui.add_argument("--port", type=int, default=5000)
    sub.add_parser("stop", help="stop what `serve` and `ui` started")
    sub.add_parser("deployments", help="list the deployment of each flow and the DVC stages it runs")
    gen = sub.add_parser("generate", help="a personalized response for one user (the registered aligner)")
    gen.add_argument("--aligner", choices=ALIGNERS, default="pba")
    gen.add_argument("--record", required=True, help="JSON file: one AlignX record (prompt + persona fields or profile)")
    gen.add_argument("--model-uri", default="", help="default: models:/alignx-<aligner>@champion")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--max-new-tokens", type=int, default=128)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Prefect API call otherwise
    # GX logs an INFO line per documented class at import (87 % of a `dvc repro` log); each gate's own result
    # still prints one line through the `alignx` logger (alignx.pipeline.stage.Stage.check).
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    if args.command == "stages":
        print("\n".join(FLOWS))
        return 0
    if args.command in ("serve", "ui", "stop", "deployments"):
        return orchestrate(args)
    if args.command == "generate":
        return generate_one(args)
    return run_stage(args.stage)


def generate_one(args: argparse.Namespace) -> int:
    """`alignx generate`: load the registered aligner, answer one record (JSON file), print the response."""
    import json
    from pathlib import Path

    import mlflow
    import pandas as pd

    path = Path(args.record)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        print(f"alignx generate: {path}: {exc}", file=sys.stderr)
        return 1
    if not isinstance(record, dict):
        print(f"alignx generate: {path}: expected one JSON object (an AlignX record)", file=sys.stderr)
        return 1
    uri = args.model_uri or f"models:/{registered_name(args.aligner)}@{CHAMPION}"
    model = mlflow.pyfunc.load_model(uri)
    params = {"task": "generate", "seed": args.seed, "max_new_tokens": args.max_new_tokens}
    try:
        out = model.predict(pd.DataFrame([record]), params=params)
    except ValueError as exc:
        print(f"alignx generate: {path}: {exc}", file=sys.stderr)
        return 1
    print(out["response"].iloc[0])
    return 0


def orchestrate(args: argparse.Namespace) -> int:
    """The `serve`, `ui`, `stop` and `deployments` commands (alignx.ops.serve, alignx.ops.deploy)."""
    from alignx.ops import deploy, serve, services

    try:
        if args.command == "serve":
            serve.serve(args.port)
        elif args.command == "ui":
            serve.ui(args.port)
        elif args.command == "stop":
            serve.stop()
        else:
            for spec in deploy.deployment_specs():
                print(f"{spec.name}: {spec.entrypoint} <- {', '.join(spec.stages) or '(not in dvc.yaml)'}")
    except (services.ServiceError, deploy.DeployError) as exc:
        print(f"alignx {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
