"""One Prefect server per `dvc repro`, shared by all its stages.

Without a configured server each `alignx run` starts Prefect's temporary server and stops it on exit, about 16 s
per stage on 2 cores (bench/stage_times.py: 4.2 min of a 13-stage run). Under DVC the first stage instead starts
the same temporary server (Prefect's own `SubprocessASGIServer`, UI off) inside a small watcher process keyed,
like the MLflow parent run, by the `dvc` process's pid and start time; the next stages find it by that key. The
watcher stops the server once that `dvc` process has exited, so nothing outlives the pipeline.

`python -m alignx.ops.pipeline_server <dvc pid> <dvc start time> <port>` is the watcher.
"""

from __future__ import annotations

import fcntl
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil

from alignx.env import free_port, process_alive
from alignx.ops import services

# Seconds between two checks of whether the pipeline's `dvc` process is still there.
POLL_SECONDS = 1.0


def service_name(pid: int, started: float) -> str:
    """Record name (`.run/<name>.json`) of the server of the `dvc` process with this pid and start time."""
    return f"prefect-pipeline-{pid}-{int(started * 1000)}"


def shared_api(dvc: psutil.Process) -> str:
    """The API URL of the Prefect server of `dvc`'s pipeline, started by the first stage that asks."""
    name = service_name(dvc.pid, dvc.create_time())
    with _lock():
        server = services.running(name)
        if server is None:
            port = free_port()
            cmd = [sys.executable, "-m", "alignx.ops.pipeline_server", str(dvc.pid), repr(dvc.create_time()),
                   str(port)]
            server = services.start(name, cmd, url=f"http://127.0.0.1:{port}")
            print(f"alignx: started the pipeline's Prefect server at {server.url} (pid {server.pid}, log "
                  f"{server.log}); it stops when dvc (pid {dvc.pid}) exits", flush=True)
        services.wait_healthy(server, f"{server.url}/api/health")
    return f"{server.url}/api"


def watch(dvc_pid: int, dvc_started: float, port: int) -> int:
    """Run the server until the `dvc` process (pid and start time) has gone, then stop it and drop its record."""
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer(port=port)
    server.start()
    try:
        while process_alive(dvc_pid, dvc_started) and server.server_process.poll() is None:
            time.sleep(POLL_SECONDS)
    finally:
        server.stop()
        record = services.record_path(service_name(dvc_pid, dvc_started))
        record.unlink(missing_ok=True)
        log = record.with_suffix(".log")  # kept only when the server said something (an error to read)
        if log.exists() and log.stat().st_size == 0:
            log.unlink()
    return 0


@contextmanager
def _lock() -> Iterator[None]:
    """Serialise start-up between stages DVC runs at once (`dvc repro --jobs`, `dvc exp run --jobs`)."""
    services.RUN_DIR.mkdir(parents=True, exist_ok=True)
    with (services.RUN_DIR / "prefect-pipeline.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


if __name__ == "__main__":
    sys.exit(watch(int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])))
