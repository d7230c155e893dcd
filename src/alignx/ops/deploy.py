"""Prefect deployments of the pipeline's stages, and running a stage through its deployment.

One deployment per flow in `alignx.contracts.FLOWS`, named after the stage's base name (`space`, `train`, ...), on
the `process` work pool `alignx`. A foreach stage of dvc.yaml (`train@ica`, `train@pba`) is one deployment
whose flow gets the key as its `variant` parameter: the deployments follow the registry, so a stage added
to FLOWS is covered without touching this module, and a new foreach key needs no new deployment at all.

`alignx run <stage>` takes this path when a server is configured (PREFECT_API_URL in the environment or
`.run/prefect.env`, written by `make serve`): it triggers the deployment with the caller's working folder and
environment (MLflow parent run, DVC experiment name), waits for the final state and mirrors it.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import yaml

from alignx.contracts import FLOWS
from alignx.ops.services import RUN_DIR

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun

POOL = "alignx"
TAG = "alignx"
SERVER_ENV_FILE = RUN_DIR / "prefect.env"
# How long `alignx run` waits for a deployment's flow run (seconds); training can take hours.
TIMEOUT_ENV = "ALIGNX_STAGE_TIMEOUT"
DEFAULT_TIMEOUT = 24 * 3600
# Variables forwarded to the flow run's process: the MLflow parent run and store, the DVC experiment, ...
FORWARD_PREFIXES = ("ALIGNX_", "DVC_", "MLFLOW_", "HF_", "TRANSFORMERS_", "DS_", "CUDA_", "OMP_")


class DeployError(RuntimeError):
    """The configured Prefect server, its work pool or a deployment cannot be used."""


@dataclass
class DeploymentSpec:
    """What is registered for one flow of the registry."""

    name: str                  # the stage's base name, also the deployment's name
    entrypoint: str            # module path of the flow, as Prefect imports it (`flows.space.space_flow`)
    stages: list[str] = field(default_factory=list)  # the DVC stages it runs (`train@ica`, `train@pba`)


# -- which server -------------------------------------------------------------------------------------------

def configured_api(env_file: Path | None = None) -> tuple[str, str] | None:
    """(API URL, where it was configured), or None when no server is configured (stages run in process).
    `env_file` defaults to the repository's `.run/prefect.env` (an experiment's temporary copy reads the
    original's: a `make serve` server is used there too)."""
    from alignx.env import in_repo

    env_file = env_file or in_repo(SERVER_ENV_FILE)
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"].rstrip("/"), "the environment (PREFECT_API_URL)"
    if env_file.exists():
        for n, line in enumerate(env_file.read_text().splitlines(), 1):
            key, _, value = line.partition("=")
            if key.strip() == "PREFECT_API_URL" and value.strip():
                return value.strip().rstrip("/"), str(env_file)
        raise DeployError(f"{env_file}: no PREFECT_API_URL=... line; delete the file or run `make serve` again")
    return None


def check_reachable(api_url: str, source: str) -> None:
    """Fail with what to do when a configured server does not answer (never fall back silently)."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=10) as response:
            if response.status == 200:
                return
            problem = f"HTTP {response.status}"
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        problem = str(getattr(exc, "reason", exc))
    raise DeployError(
        f"Prefect server {api_url} (configured by {source}) is not reachable: {problem}. "
        "Start it with `make serve`, or run `make stop` / unset PREFECT_API_URL to run stages in process."
    )


def ui_url(api_url: str, flow_run_id: Any = None) -> str:
    """The Prefect UI address of the server (of a flow run when given)."""
    base = api_url.removesuffix("/api")
    return f"{base}/runs/flow-run/{flow_run_id}" if flow_run_id else base


@contextmanager
def api(api_url: str) -> Iterator[Any]:
    """A synchronous Prefect client for `api_url`."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        yield client


# -- what is deployed ---------------------------------------------------------------------------------------

def dvc_stages(path: Path = Path("dvc.yaml")) -> list[str]:
    """The stage names of dvc.yaml, foreach stages expanded (`train@ica`)."""
    doc = yaml.safe_load(path.read_text()) if path.exists() else None
    names: list[str] = []
    for name, body in ((doc or {}).get("stages") or {}).items():
        keys = (body or {}).get("foreach") if isinstance(body, dict) else None
        if isinstance(keys, dict):
            names += [f"{name}@{key}" for key in keys]
        elif isinstance(keys, list):
            names += [f"{name}@{key}" for key in keys]
        else:  # a plain stage, or a foreach over a params reference DVC resolves itself
            names.append(name)
    return names


def deployment_specs(dvc_file: Path = Path("dvc.yaml")) -> list[DeploymentSpec]:
    """One spec per flow of the registry, with the DVC stages each one runs."""
    stages = dvc_stages(dvc_file)
    return [
        DeploymentSpec(base, target.replace(":", "."), [s for s in stages if s.split("@")[0] == base])
        for base, target in FLOWS.items()
    ]


def ensure_pool(client: Any) -> None:
    """Create the `process` work pool `alignx` unless it exists."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    try:
        client.read_work_pool(POOL)
    except ObjectNotFound:
        template = ProcessWorker.get_default_base_job_template()
        client.create_work_pool(WorkPoolCreate(name=POOL, type="process", base_job_template=template))


def register(client: Any, spec: DeploymentSpec, root: Path) -> Any:
    """Create or update the deployment of one flow; returns its id."""
    from prefect.utilities.callables import parameter_schema

    module, attr = spec.entrypoint.rsplit(".", 1)
    flow = getattr(importlib.import_module(module), attr)
    stages = ", ".join(spec.stages) or spec.name
    return client.create_deployment(
        flow_id=client.create_flow_from_name(flow.name),
        name=spec.name,
        # A module path (no colon): the flow run imports the installed code, nothing is copied.
        entrypoint=spec.entrypoint,
        work_pool_name=POOL,
        parameter_openapi_schema=parameter_schema(flow).model_dump(),
        # The default folder; each trigger passes the caller's own (a repo copy, a DVC experiment workspace).
        job_variables={"working_dir": str(root.resolve())},
        tags=[TAG],
        description=f"AlignX stage flow `{flow.name}`; DVC stages: {stages}. Triggered by `alignx run <stage>`.",
    )


def register_all(api_url: str, root: Path = Path(".")) -> list[str]:
    """Create the work pool and one deployment per registry flow; returns the deployments' names."""
    with api(api_url) as client:
        ensure_pool(client)
        specs = deployment_specs(root / "dvc.yaml")
        for spec in specs:
            register(client, spec, root)
    return [spec.name for spec in specs]


def find_deployment(client: Any, name: str) -> Any | None:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName, DeploymentFilterTags

    found = client.read_deployments(deployment_filter=DeploymentFilter(
        name=DeploymentFilterName(any_=[name]), tags=DeploymentFilterTags(all_=[TAG])))
    return found[0] if found else None


# -- running a stage through its deployment -----------------------------------------------------------------

def forwarded_env() -> dict[str, str]:
    """The caller's variables the flow run needs (see FORWARD_PREFIXES)."""
    return {k: v for k, v in os.environ.items() if k.startswith(FORWARD_PREFIXES)}


def submit(stage: str, api_url: str, parameters: dict[str, Any], env: dict[str, str]) -> FlowRun:
    """Create a flow run of `stage`'s deployment that runs in the current folder with `env`.

    Registers the deployment first if the server lacks it (a stage added after `make serve`), and fails
    when no worker polls the pool (the flow run would wait forever).
    """
    from prefect.client.schemas.objects import WorkerStatus
    from prefect.deployments import run_deployment

    base = stage.split("@")[0]
    with api(api_url) as client:
        ensure_pool(client)
        deployment = find_deployment(client, base)
        if deployment is None:
            spec = next(s for s in deployment_specs() if s.name == base)
            deployment = client.read_deployment(register(client, spec, Path(".")))
            print(f"alignx: registered missing deployment {base} on {api_url}")
        if not any(w.status == WorkerStatus.ONLINE for w in client.read_workers_for_work_pool(POOL)):
            raise DeployError(f"no worker is polling work pool {POOL!r} on {api_url}: start one with `make serve`")
        return run_deployment(
            deployment.id,
            parameters=parameters,
            job_variables={"working_dir": str(Path.cwd()), "env": env},
            timeout=0,  # return at once: `wait` follows the run and streams its logs
            tags=[TAG, f"stage:{stage}"],
            flow_run_name=f"{stage}-{os.getpid()}",
            as_subflow=False,
        )


def wait(api_url: str, flow_run_id: Any, timeout: float | None = None,
         echo: Callable[[str], None] = print) -> FlowRun:
    """Follow a flow run to its final state, passing its log lines to `echo` as they arrive. On timeout or
    Ctrl-C the run is cancelled: DVC has given up on the stage, so the run must not write outputs after."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.states import Cancelling

    timeout = float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT)) if timeout is None else timeout
    deadline = time.monotonic() + timeout
    logs = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
    seen = 0
    with api(api_url) as client:
        try:
            while True:
                run = client.read_flow_run(flow_run_id)
                final = run.state is not None and run.state.is_final()
                if final:
                    time.sleep(1)  # the run's last log lines are sent just after its final state
                for log in client.read_logs(logs, offset=seen, limit=200):
                    echo(f"{log.timestamp:%H:%M:%S} {log.name} {logging.getLevelName(log.level)} {log.message}")
                    seen += 1
                if final:
                    return run
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no final state after {timeout:.0f} s ({TIMEOUT_ENV})")
                time.sleep(1)
        except (KeyboardInterrupt, TimeoutError) as exc:
            client.set_flow_run_state(flow_run_id, Cancelling(message=f"alignx run stopped waiting: {exc!r}"),
                                      force=True)
            if isinstance(exc, KeyboardInterrupt):
                raise
            return client.read_flow_run(flow_run_id)
