"""How many torch threads a stage uses: the cores this process may actually run on, never more.

torch's default is the machine's core count, which oversubscribes a process confined to fewer cores (a CPU
affinity mask, a cgroup CPU quota in a container) or sharing them: with 2 threads on 2 busy cores a training step
ran 7-9x slower than with 1. The choice is fixed per process (never adapted to the load while running), because
the CPU kernels are deterministic only at a fixed thread count. To run several stages side by side, give each
its share explicitly: `OMP_NUM_THREADS=1 dvc repro ...` (or `train.threads`). A stage that starts N processes
(training, scoring) gives each its share of the stage's threads (alignx.pipeline.launcher.launcher_env).
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>" or "max <period>"


def available_cores() -> int:
    """Cores this process may use: its affinity mask, capped by the cgroup CPU quota when one is set."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()
        if quota != "max":
            cores = min(cores, max(1, math.floor(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def configure(requested: int = 0) -> dict[str, float]:
    """Set torch's intra-op threads: `requested` when > 0, else OMP_NUM_THREADS when set, else the available
    cores. Returns what was chosen and why, plus the 1-minute load average, for the stage's MLflow run.

    torch is not imported here: a stage that never uses it (space, personas, pairs, benchmarks) would pay its
    import (several seconds) for nothing. When torch is not loaded yet, OMP_NUM_THREADS is set instead, which torch
    reads when the stage imports it."""
    cores = available_cores()
    if requested > 0:
        threads, source = requested, "param"
    elif os.environ.get("OMP_NUM_THREADS", "").isdigit() and int(os.environ["OMP_NUM_THREADS"]) > 0:
        threads, source = int(os.environ["OMP_NUM_THREADS"]), "OMP_NUM_THREADS"
    else:
        threads, source = cores, "available cores"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    else:
        os.environ["OMP_NUM_THREADS"] = str(threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load > cores:
        print(f"[threads] load average {load:.1f} on {cores} cores: other processes compete for them; steps will be "
              "slower (give each process its share with OMP_NUM_THREADS)", flush=True)
    return {"threads": threads, "cores_available": cores, "load_1min": round(load, 2), "source": source}
