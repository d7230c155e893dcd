"""Background services are stopped by their recorded pid: all of them, and nothing else."""

from __future__ import annotations

import json
import os
import sys

import psutil
import pytest

from alignx.ops import services

# A service with a child process, like `prefect server start` (uvicorn) or a worker (flow runs).
WITH_CHILD = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
IGNORES_SIGINT = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)"


def wait_for_children(proc: psutil.Process, n: int = 1) -> list[psutil.Process]:
    for _ in range(200):
        if len(proc.children()) >= n:
            break
        psutil.wait_procs([], timeout=0.05)
    return proc.children()


def test_stop_ends_the_service_and_its_children(tmp_path):
    service = services.start("demo", [sys.executable, "-c", WITH_CHILD], url="-", run_dir=tmp_path)
    proc = service.process()
    [child] = wait_for_children(proc)
    assert services.running("demo", tmp_path).pid == service.pid
    assert services.stop("demo", tmp_path) is True
    assert not proc.is_running() and not child.is_running()
    assert services.recorded(tmp_path) == []
    assert services.stop("demo", tmp_path) is False, "nothing recorded any more"


def test_a_service_ignoring_sigint_is_killed_after_the_grace_period(tmp_path):
    service = services.start("stubborn", [sys.executable, "-c", IGNORES_SIGINT], url="-", run_dir=tmp_path)
    proc = service.process()
    psutil.wait_procs([], timeout=1)  # let it install its handler
    assert services.stop("stubborn", tmp_path, grace=1) is True
    assert not proc.is_running()


def test_a_reused_pid_is_never_signalled(tmp_path):
    me = psutil.Process()
    record = {"name": "old", "pid": os.getpid(), "create_time": me.create_time() - 100, "cmd": ["x"], "url": "-",
              "log": "-"}
    (tmp_path / "old.json").write_text(json.dumps(record))
    assert services.running("old", tmp_path) is None
    assert services.stop("old", tmp_path) is False
    assert me.is_running() and services.recorded(tmp_path) == []


def test_startup_failure_shows_the_log(tmp_path):
    service = services.start("broken", [sys.executable, "-c", "print('port already in use'); raise SystemExit(3)"],
                             url="-", run_dir=tmp_path)
    with pytest.raises(services.ServiceError, match="port already in use"):
        services.wait_healthy(service, "http://127.0.0.1:9/health", timeout=30)


def test_bad_record_says_which_file(tmp_path):
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(services.ServiceError, match="junk.json"):
        services.load("junk", tmp_path)
