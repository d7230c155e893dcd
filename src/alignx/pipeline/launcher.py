"""Running N processes of one job under the `deepspeed` launcher: the same launcher for training and scoring.

    cmd = launcher_command(2, "", "alignx.modeling.parallel_scoring", ["--spec", "spec.json"])
    code = subprocess.run(cmd, env=launcher_env(2)).returncode

The launcher starts `--num_gpus N` copies of the module on this machine (or on every host of a DeepSpeed hostfile),
each with RANK, WORLD_SIZE and LOCAL_RANK set, and exits non-zero as soon as one of them fails (it stops the others).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from alignx.env import free_port
from alignx.threads import available_cores

DIST_VARS = ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK")


def launcher_command(num_processes: int, hostfile: str, module: str, args: list[str], where: str) -> list[str]:
    """`deepspeed [--hostfile H] --num_gpus N --master_port P --module <module> <args>`; `where` names the params
    key of the hostfile in errors (e.g. `train.hostfile`)."""
    deepspeed = Path(sys.executable).with_name("deepspeed")  # the launcher installed beside this interpreter
    cmd = [str(deepspeed) if deepspeed.exists() else "deepspeed"]
    if hostfile:
        if not Path(hostfile).exists():
            raise FileNotFoundError(f"params.yaml {where}: {hostfile} not found")
        cmd += ["--hostfile", hostfile]
    return cmd + ["--num_gpus", str(num_processes), "--master_port", str(free_port()), "--module", module, *args]


def launcher_env(num_processes: int) -> dict[str, str]:
    """This process's environment for the launcher: no inherited rank variables; on a CPU-only machine the
    DeepSpeed CPU accelerator and an equal share per rank of the stage's threads (OMP_NUM_THREADS when set, else the
    available cores): more threads than cores per rank makes every matmul slower, and the log-probs do not depend on
    the thread count."""
    import torch

    env = {k: v for k, v in os.environ.items() if k not in DIST_VARS}
    if not torch.cuda.is_available():
        env["DS_ACCELERATOR"] = "cpu"
        total = env.get("OMP_NUM_THREADS", "")
        total_threads = int(total) if total.isdigit() and int(total) > 0 else available_cores()
        env["OMP_NUM_THREADS"] = str(max(1, total_threads // num_processes))
    return env
