"""`make serve` / `make ui` / `make stop`: the servers a user browses, started from the repository root.

serve: Prefect server (state under `.prefect/`, the PREFECT_HOME that every `dvc repro` records its flow runs in,
       alignx.env.prefect_home) + `process` work pool + worker + one deployment per stage
       flow; writes `.run/prefect.env`, which makes `alignx run` (so `dvc repro`) go through the deployments.
ui:    MLflow UI on the project's store (`mlflow.db`, artifacts in `mlartifacts/`).
stop:  stops what these started (records in `.run/`) and removes `.run/prefect.env`.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alignx.env import prefect_home
from alignx.ops import deploy, services

SERVER, WORKER, MLFLOW_UI = "prefect-server", "prefect-worker", "mlflow-ui"


def _prefect_env(api_url: str | None = None) -> dict[str, str]:
    env = {"PREFECT_HOME": str(prefect_home())}
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def serve(port: int = 4200, host: str | None = None) -> str:
    """Start (or find running) the Prefect server and worker, register the deployments; return the UI URL."""
    host = host or services.bind_host()
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    api_url = f"http://{local}:{port}/api"
    server = services.running(SERVER)
    if server is None:
        prefect_home().mkdir(parents=True, exist_ok=True)
        cmd = [services.tool("prefect"), "server", "start", "--host", host, "--port", str(port)]
        # The UI's browser code calls the API at this address (Prefect's default is port 4200).
        env = {**_prefect_env(), "PREFECT_SERVER_UI_API_URL": api_url}
        server = services.start(SERVER, cmd, url=deploy.ui_url(api_url), env=env)
        print(f"alignx: starting Prefect server (pid {server.pid}, log {server.log})")
    else:
        api_url = server.url + "/api"
    services.wait_healthy(server, f"{api_url}/health")
    deploy.SERVER_ENV_FILE.write_text(f"PREFECT_API_URL={api_url}\n")
    names = deploy.register_all(api_url)
    print(f"alignx: work pool {deploy.POOL!r}, deployments: {', '.join(names)}")
    if services.running(WORKER) is None:
        cmd = [services.tool("prefect"), "worker", "start", "--pool", deploy.POOL, "--type", "process"]
        # Poll for new flow runs every second (Prefect's default, 10 s, would add up to 10 s to every stage).
        env = {**_prefect_env(api_url), "PREFECT_WORKER_QUERY_SECONDS": "1"}
        worker = services.start(WORKER, cmd, url=server.url, env=env)
        wait_worker_online(api_url, worker)
        print(f"alignx: worker polling {deploy.POOL!r} (pid {worker.pid}, log {worker.log})")
    print(f"alignx: Prefect UI {server.url}  (`dvc repro` now runs every stage through its deployment)")
    return server.url


def wait_worker_online(api_url: str, worker: services.Service, timeout: float = 120) -> None:
    """Wait for the worker's first heartbeat, so a `dvc repro` right after `make serve` finds it."""
    from prefect.client.schemas.objects import WorkerStatus

    deadline = time.monotonic() + timeout
    with deploy.api(api_url) as client:
        while time.monotonic() < deadline:
            if worker.process() is None:
                raise services.ServiceError(f"worker exited; last lines of {worker.log}:\n"
                                            + services.tail(Path(worker.log)))
            if any(w.status == WorkerStatus.ONLINE for w in client.read_workers_for_work_pool(deploy.POOL)):
                return
            time.sleep(1)
    raise services.ServiceError(f"worker not online after {timeout:.0f} s; see {worker.log}")


def ui(port: int = 5000, host: str | None = None) -> str:
    """Start (or find running) the MLflow UI on the project's store; return its URL."""
    from alignx.pipeline import tracking  # imports mlflow: only here, so `stop` stays quick

    host = host or services.bind_host()
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    running = services.running(MLFLOW_UI)
    if running is not None:
        print(f"alignx: MLflow UI already running at {running.url}")
        return running.url
    store = os.environ.get("MLFLOW_TRACKING_URI") or tracking.default_tracking_uri()
    if not store.startswith("sqlite:///"):
        raise services.ServiceError(f"MLFLOW_TRACKING_URI={store}: `make ui` serves a sqlite store; browse "
                                    "a tracking server at its own address")
    artifacts = os.environ.get("MLFLOW_ARTIFACT_LOCATION") or str(tracking.default_artifacts())
    cmd = [services.tool("mlflow"), "server", "--backend-store-uri", store, "--artifacts-destination",
           artifacts, "--host", host, "--port", str(port), "--workers", "1"]
    url = f"http://{local}:{port}"
    service = services.start(MLFLOW_UI, cmd, url=url)
    print(f"alignx: starting MLflow UI (pid {service.pid}, log {service.log})")
    services.wait_healthy(service, f"{url}/health")
    print(f"alignx: MLflow UI {experiment_url(url, store)}  (experiment {tracking.EXPERIMENT!r}: a pipeline run per "
          "`dvc repro`, its stage runs nested under it)")
    return url


# The MLflow UI (3.x) opens an experiment in the workflow its top bar last chose, GenAI in a fresh browser, whatever
# the experiment's `mlflow.experimentKind` tag says (alignx.pipeline.tracking sets it); this URL parameter opens the
# model-training view.
ML_WORKFLOW = "workflowType=machine_learning"


def experiment_url(url: str, store: str) -> str:
    """The UI address of experiment `alignx` in the model-training view (the UI's root when it does not exist)."""
    import mlflow

    from alignx.pipeline import tracking

    experiment = mlflow.MlflowClient(tracking_uri=store).get_experiment_by_name(tracking.EXPERIMENT)
    page = f"/experiments/{experiment.experiment_id}/runs" if experiment is not None else "/experiments"
    return f"{url}/#{page}?{ML_WORKFLOW}"


def stop() -> list[str]:
    """Stop every recorded service and forget the server address. The worker goes before the server (it may
    be running a flow that reports to it); the MLflow UI stops meanwhile."""
    names = services.recorded()
    chain = [n for n in (WORKER, SERVER) if n in names]
    with ThreadPoolExecutor() as pool:
        others = {n: pool.submit(services.stop, n) for n in names if n not in chain}
        stopped = [n for n in chain if services.stop(n)]
        stopped += [n for n, done in others.items() if done.result()]
    deploy.SERVER_ENV_FILE.unlink(missing_ok=True)
    print(f"alignx: stopped {', '.join(stopped) or 'nothing (no recorded service was running)'}")
    return stopped
