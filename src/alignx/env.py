"""The process environment the project sets for itself (no session environment is assumed): offline and telemetry
defaults, the repository's local state (Prefect's home), and a free local port for the servers it starts.

This file is the one home of the defaults: `import alignx` applies them, and the Makefile exports the same values
by running this file (`python src/alignx/env.py` prints them as KEY=VALUE lines; it imports nothing but the
standard library, so it runs before the virtual environment exists).
"""

import os
import socket
from pathlib import Path

# Values verified on this stack (../shared/ENVIRONMENT.md). A variable the caller already set wins.
DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "true",
    # A busy 2-core machine can miss Prefect's 20 s default for the ephemeral API server.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    # Every stage's MLflow run samples CPU, memory and disk (alignx.pipeline.tracking.stage_run) this often, in
    # seconds: a stage shorter than that logs no system metrics.
    "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL": "5",
    "DVC_NO_ANALYTICS": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "TOKENIZERS_PARALLELISM": "false",
    # The stages' own `alignx` logger (gate results, stage summaries) goes to the flow run's logs in Prefect too.
    "PREFECT_LOGGING_EXTRA_LOGGERS": "alignx",
    # ... and outside a flow run (a test, a helper script) that logger just logs, without a warning per line.
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
}


# DVC sets it for every stage command: the repository root, and in `dvc exp run --temp / --queue` the root of the
# repository the experiment was queued from (not the temporary copy it runs in, .dvc/tmp/exps/...).
DVC_ROOT_ENV = "DVC_ROOT"
# Where Prefect keeps its database (flow runs, logs, artifacts): one per repository, `<repo>/.prefect`, shared by
# every `dvc repro` / `dvc exp run` and by the UI of `make serve`.
PREFECT_HOME_ENV = "PREFECT_HOME"


def repo_root(start: Path | None = None) -> Path | None:
    """The repository the current command works for: DVC_ROOT when DVC runs it (the original repository in an
    experiment's temporary copy), else the nearest folder from `start` (default: the working folder) upwards
    holding `dvc.yaml`; None outside a repository."""
    if os.environ.get(DVC_ROOT_ENV) and Path(os.environ[DVC_ROOT_ENV]).is_dir():
        return Path(os.environ[DVC_ROOT_ENV]).resolve()
    here = (start or Path.cwd()).resolve()
    return next((p for p in (here, *here.parents) if (p / "dvc.yaml").is_file()), None)


def in_repo(relative: str | Path) -> Path:
    """`relative` (a path of the repository's own state: mlflow.db, .prefect, .run) as an absolute path in
    repo_root(), so an experiment's temporary copy uses the original's; relative to the working folder outside
    a repository."""
    root = repo_root()
    return (root / relative) if root is not None else Path(relative).resolve()


def local_state() -> dict[str, str]:
    """The defaults that depend on where the command runs: PREFECT_HOME in the repository (none outside one)."""
    root = repo_root()
    return {PREFECT_HOME_ENV: str(root / ".prefect")} if root is not None else {}


def prefect_home() -> Path:
    """The Prefect home every process of this repository uses: PREFECT_HOME, default `<repo>/.prefect`."""
    return Path(os.environ.get(PREFECT_HOME_ENV) or in_repo(".prefect")).resolve()


def apply_defaults() -> None:
    """Set every default the caller has not set already."""
    for key, value in {**DEFAULTS, **local_state()}.items():
        os.environ.setdefault(key, value)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (servers and process groups bind only there)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_alive(pid: int, started: float | None = None) -> bool:
    """Whether process `pid` runs (a zombie does not) and, given `started` (its start time, epoch seconds), is that
    same process rather than a later one that reuses the pid."""
    import psutil  # here, not at the top: the Makefile runs this file with a bare python3

    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and (started is None or abs(proc.create_time() - started) < 0.01)
    except psutil.NoSuchProcess:
        return False


if __name__ == "__main__":  # the Makefile's exports
    print("\n".join(f"{key}={value}" for key, value in {**DEFAULTS, **local_state()}.items()))
