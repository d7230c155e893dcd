"""The process environment the project sets for itself (no session environment is assumed): offline and telemetry
defaults, and a free local port for the servers and process groups it starts.

This file is the one home of the defaults: `import alignx` applies them, and the Makefile exports the same values
by running this file (`python src/alignx/env.py` prints them as KEY=VALUE lines; it imports nothing but the
standard library, so it runs before the virtual environment exists).
"""

import os
import socket

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
    "DVC_NO_ANALYTICS": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "TOKENIZERS_PARALLELISM": "false",
}


def apply_defaults() -> None:
    """Set every default the caller has not set already."""
    for key, value in DEFAULTS.items():
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
    print("\n".join(f"{key}={value}" for key, value in DEFAULTS.items()))
