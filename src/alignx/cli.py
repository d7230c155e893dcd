"""`alignx run <stage>`: the single command each DVC stage calls.

The stage's Prefect flow runs in this process. The exit code follows the flow run's final state, so a
failed gate stops `dvc repro`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Stage base name -> "module:flow". A stage of a foreach (`train@ica`) passes its key as `variant`.
FLOWS = {
    "space": "flows.space:space_flow",
}


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
    """Run one stage's flow in process; 0 when the flow run COMPLETED, 1 otherwise."""
    flow = load_flow(stage)
    state = flow(**flow_kwargs(stage), return_state=True)
    if state.is_completed():
        print(f"alignx: stage {stage} {state.type.value}")
        return 0
    error = state.result(raise_on_failure=False)
    print(f"alignx: stage {stage} {state.type.value}\n{error}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="alignx", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one pipeline stage (as DVC does)")
    run.add_argument("stage", help="stage name, e.g. space or train@ica")
    sub.add_parser("stages", help="list the stages")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Prefect API call otherwise
    if args.command == "stages":
        print("\n".join(FLOWS))
        return 0
    return run_stage(args.stage)


if __name__ == "__main__":
    sys.exit(main())
