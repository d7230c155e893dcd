"""Background services a user browses: the Prefect server and worker (`make serve`), the MLflow UI (`make ui`).

Each service is started in its own process session and recorded in `.run/<name>.json` (pid and start time),
so `make stop` stops exactly what was started, never a process that merely reuses a recorded pid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

RUN_DIR = Path(".run")
# Loopback unless the user asks otherwise (e.g. `ALIGNX_BIND_HOST=0.0.0.0` inside a container).
DEFAULT_HOST = "127.0.0.1"
BIND_HOST_ENV = "ALIGNX_BIND_HOST"


class ServiceError(RuntimeError):
    """A service did not start, or a recorded one cannot be handled."""


@dataclass
class Service:
    """A started background process: what `.run/<name>.json` records."""

    name: str
    pid: int
    create_time: float
    cmd: list[str]
    url: str
    log: str

    def process(self) -> psutil.Process | None:
        """The live process this record describes; None when it exited (or the pid was reused)."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > 0.01 or proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.NoSuchProcess:
            return None


def bind_host() -> str:
    return os.environ.get(BIND_HOST_ENV, DEFAULT_HOST)


def tool(name: str) -> str:
    """A console script of this environment (prefect, mlflow) next to the running interpreter."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise ServiceError(f"{path}: not found (is the project installed in this environment?)")
    return str(path)


def record_path(name: str, run_dir: Path = RUN_DIR) -> Path:
    return run_dir / f"{name}.json"


def load(name: str, run_dir: Path = RUN_DIR) -> Service | None:
    """The recorded service `name`, or None when nothing is recorded."""
    path = record_path(name, run_dir)
    if not path.exists():
        return None
    try:
        return Service(**json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError) as exc:
        raise ServiceError(f"{path}: not a service record ({exc}); delete it if the process is gone") from exc


def running(name: str, run_dir: Path = RUN_DIR) -> Service | None:
    """The recorded service `name` if its process is still alive."""
    service = load(name, run_dir)
    return service if service is not None and service.process() is not None else None


def start(name: str, cmd: list[str], url: str, env: dict[str, str] | None = None,
          run_dir: Path = RUN_DIR) -> Service:
    """Start `cmd` in the background (own session, output to `.run/<name>.log`) and record it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / f"{name}.log"
    with log.open("ab") as out:
        # A new session makes the service the leader of its own process group: `stop` signals that group,
        # which holds the service's children (uvicorn workers, flow-run processes) and nothing else.
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})}, start_new_session=True)
    service = Service(name, proc.pid, psutil.Process(proc.pid).create_time(), cmd, url, str(log))
    record_path(name, run_dir).write_text(json.dumps(asdict(service), indent=2) + "\n")
    return service


def wait_healthy(service: Service, health_url: str, timeout: float = 180) -> None:
    """Poll `health_url` until it answers 200; fail early, with the log's tail, if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process() is None:
            raise ServiceError(f"{service.name} exited during startup; last lines of {service.log}:\n"
                               + tail(Path(service.log)))
        try:
            with urllib.request.urlopen(health_url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise ServiceError(f"{service.name}: {health_url} not healthy after {timeout:.0f} s; see {service.log}")


def stop(name: str, run_dir: Path = RUN_DIR, grace: float = 20) -> bool:
    """Stop the recorded service `name` and its process group; True if a live process was stopped.

    SIGINT first (a Prefect process worker ignores the first SIGTERM but shuts down cleanly on SIGINT),
    then SIGKILL for whatever is left after `grace` seconds.
    """
    service = load(name, run_dir)
    if service is None:
        return False
    proc = service.process()
    if proc is not None:
        group = [proc, *proc.children(recursive=True)]
        _signal_group(service.pid, signal.SIGINT)
        _, alive = psutil.wait_procs(group, timeout=grace)
        if alive:
            _signal_group(service.pid, signal.SIGKILL)
            for p in alive:  # children that left the group still belong to this service
                try:
                    p.kill()
                except psutil.NoSuchProcess:
                    pass
            psutil.wait_procs(alive, timeout=5)
    record_path(name, run_dir).unlink(missing_ok=True)
    return proc is not None


def recorded(run_dir: Path = RUN_DIR) -> list[str]:
    """Names of all recorded services."""
    return sorted(p.stem for p in run_dir.glob("*.json")) if run_dir.exists() else []


def tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # the service leads its session, so its pid is its process group id
    except ProcessLookupError:
        pass
