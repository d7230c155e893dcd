"""Thread choice: never more torch threads than the cores this process may run on; an explicit choice wins."""

from __future__ import annotations

import os

import torch

from alignx import threads


def test_available_cores_respects_affinity_and_cgroup_quota(tmp_path, monkeypatch):
    affinity = len(os.sched_getaffinity(0))
    quota = tmp_path / "cpu.max"
    monkeypatch.setattr(threads, "CGROUP_CPU_MAX", quota)
    quota.write_text("max 100000\n")
    assert threads.available_cores() == affinity
    quota.write_text("50000 100000\n")  # half a core: still one thread
    assert threads.available_cores() == 1


def test_configure_takes_param_then_omp_then_cores(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert threads.configure(0)["source"] == "OMP_NUM_THREADS" and torch.get_num_threads() == 1
        assert threads.configure(2)["threads"] == 2 and torch.get_num_threads() == 2
        monkeypatch.delenv("OMP_NUM_THREADS")
        chosen = threads.configure(0)
        assert chosen["threads"] == threads.available_cores() and chosen["source"] == "available cores"
    finally:
        torch.set_num_threads(before)


def test_configure_leaves_torch_unimported_and_torch_starts_with_the_choice():
    """A stage without torch (space, pairs, ...) does not pay its import; one that imports it later gets the choice."""
    import subprocess
    import sys

    code = ("import sys; from alignx import threads; chosen = threads.configure(1); assert 'torch' not in sys.modules; "
            "import torch; print(torch.get_num_threads(), chosen['threads'])")
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip().splitlines()[-1].split() == ["1", "1"]
