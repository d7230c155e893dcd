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
