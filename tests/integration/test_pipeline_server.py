"""One Prefect server per `dvc` process: every stage of the pipeline finds the same one, and it stops with dvc."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

import psutil

from alignx.ops import pipeline_server, services


def test_stages_of_one_dvc_process_share_one_server_that_stops_with_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # records live in ./.run, as under `dvc repro` in the repository root
    # Stand-in for the `dvc repro` process the stages run under.
    dvc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        first = pipeline_server.shared_api(psutil.Process(dvc.pid))
        second = pipeline_server.shared_api(psutil.Process(dvc.pid))
        assert first == second
        with urllib.request.urlopen(f"{first}/health", timeout=10) as response:
            assert response.status == 200
        name = pipeline_server.service_name(dvc.pid, psutil.Process(dvc.pid).create_time())
        watcher = services.running(name).process()
        server = watcher.children(recursive=True)
        assert server, "the watcher runs the server as its child"
    finally:
        dvc.kill()
        dvc.wait()
    gone, alive = psutil.wait_procs([watcher, *server], timeout=60)
    assert not alive, f"still running after dvc exited: {alive}"
    assert not services.record_path(name).exists()
