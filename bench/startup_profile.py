"""Where a stage's time goes before its work starts: imports, Prefect, MLflow, DVC.

    PYTHONPATH=src:. .venv/bin/python bench/startup_profile.py [--repeat 3] [--out bench/results]

Measures, each in fresh processes (median of `--repeat`):
- the import of each heavy library alone (`python -X importtime -c "import L"`, its cumulative time), minus a bare
  interpreter's start;
- each stage's flow module (`import flows.<stage>`, what `alignx run <stage>` imports before the flow starts),
  with its import time split per top-level package (`-X importtime` self times summed per package);
- Prefect: a trivial flow run in process against a temporary local API (the first flow run of a process, then a
  second one), MLflow: opening a run on a copy of the project's store (`mlflow.db`), and DVC: `dvc status` of one
  stage (what `dvc repro` spends checking a stage before and after it runs).
Writes `startup_profile-<date>-<host>.{json,md}` to `--out`, with the machine's load average at the start and end:
on a shared machine the figures move with the load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

from result_files import write_results  # bench/result_files.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
LIBRARIES = ["torch", "transformers", "deepspeed", "mlflow", "prefect", "great_expectations", "pandas", "pyarrow",
             "peft", "dvc.repo"]
LINE = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = f"{ROOT / 'src'}:{ROOT}"
    e.setdefault("OMP_NUM_THREADS", "1")
    return e


def importtime(code: str) -> tuple[float, dict[str, float], float]:
    """(wall seconds, self seconds per top-level package, cumulative seconds of the top-level imports) of `code`
    in a fresh interpreter under -X importtime."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, env=env(),
                          cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise RuntimeError(f"{code!r} failed: {proc.stderr[-2000:]}")
    per_package: dict[str, float] = defaultdict(float)
    top = 0.0
    for line in proc.stderr.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        self_us, cumulative_us, indent, module = int(m[1]), int(m[2]), m[3], m[4]
        per_package[module.split(".")[0]] += self_us / 1e6
        if len(indent) == 1:  # a top-level import of this process
            top += cumulative_us / 1e6
    return wall, dict(per_package), top


def median_of(repeat: int, fn):
    runs = [fn() for _ in range(repeat)]
    return runs[len(runs) // 2] if not isinstance(runs[0], (int, float)) else statistics.median(runs)


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env(), cwd=cwd)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")
    return time.perf_counter() - start


PREFECT_PROBE = """
import time
t0 = time.perf_counter()
from prefect import flow
t1 = time.perf_counter()
@flow
def probe() -> int:
    return 1
probe()
t2 = time.perf_counter()
probe()
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""

MLFLOW_PROBE = """
import time, sys
t0 = time.perf_counter()
import mlflow
t1 = time.perf_counter()
mlflow.set_tracking_uri("sqlite:///" + sys.argv[1])
mlflow.set_experiment("startup-probe")
with mlflow.start_run():
    mlflow.log_metric("x", 1.0)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def probe(code: str, *args: str) -> list[float]:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env(), cwd=ROOT)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return [float(x) for x in proc.stdout.strip().splitlines()[-1].split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--stages", default="", help="comma-separated flow modules (default: every stage)")
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    from alignx.contracts import FLOWS

    load_start = os.getloadavg()
    result: dict = {"host": platform.node(), "cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "load_1min_start": load_start[0], "repeat": args.repeat}
    bare = median_of(args.repeat, lambda: timed([sys.executable, "-c", "pass"], ROOT))
    result["bare_interpreter_s"] = bare
    libs = {}
    for lib in LIBRARIES:
        walls, tops = [], []
        for _ in range(args.repeat):
            wall, _, top = importtime(f"import {lib}")
            walls.append(wall)
            tops.append(top)
        libs[lib] = {"wall_s": statistics.median(walls) - bare, "importtime_s": statistics.median(tops)}
        print(f"import {lib}: {libs[lib]['wall_s']:.2f} s", flush=True)
    result["libraries"] = libs
    stages = {}
    names = [s for s in args.stages.split(",") if s] or list(FLOWS)
    for name in names:
        module = FLOWS[name].split(":")[0]
        runs = [importtime(f"import alignx, {module}") for _ in range(args.repeat)]
        wall, packages, _ = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
        heavy = {k: round(v, 3) for k, v in sorted(packages.items(), key=lambda kv: -kv[1]) if v >= 0.05}
        stages[name] = {"import_wall_s": wall - bare, "packages_s": heavy}
        print(f"flows {name}: {wall - bare:.2f} s {heavy}", flush=True)
    result["stage_imports"] = stages
    prefect = [probe(PREFECT_PROBE) for _ in range(args.repeat)]
    result["prefect"] = {"import_s": statistics.median(p[0] for p in prefect),
                         "first_flow_run_s": statistics.median(p[1] for p in prefect),
                         "second_flow_run_s": statistics.median(p[2] for p in prefect)}
    print(f"prefect: {result['prefect']}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "mlflow.db"
        if (ROOT / "mlflow.db").exists():
            shutil.copy(ROOT / "mlflow.db", store)
        mlflow_runs = [probe(MLFLOW_PROBE, str(store)) for _ in range(args.repeat)]
    result["mlflow"] = {"import_s": statistics.median(p[0] for p in mlflow_runs),
                        "store_and_run_s": statistics.median(p[1] for p in mlflow_runs),
                        "store_copy_of": "mlflow.db" if (ROOT / "mlflow.db").exists() else "a new store"}
    print(f"mlflow: {result['mlflow']}", flush=True)
    dvc = shutil.which("dvc", path=str(Path(sys.executable).parent)) or "dvc"
    result["dvc"] = {"status_one_stage_s": median_of(args.repeat, lambda: timed([dvc, "status", "space"], ROOT)),
                     "version_s": median_of(args.repeat, lambda: timed([dvc, "--version"], ROOT))}
    print(f"dvc: {result['dvc']}", flush=True)
    result["load_1min_end"] = os.getloadavg()[0]
    write(result, Path(args.out))


def write(result: dict, out: Path) -> None:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H%M")
    lines = [f"# Stage start-up profile ({stamp} UTC, {result['cpus']} CPUs, load {result['load_1min_start']:.1f} -> "
             f"{result['load_1min_end']:.1f})", "",
             f"Median of {result['repeat']} fresh processes; a bare interpreter starts in {result['bare_interpreter_s']:.2f} s "
             "(subtracted). `bench/startup_profile.py` wrote this.", "", "## Libraries alone", "",
             "| import | wall s |", "|---|---:|"]
    lines += [f"| {k} | {v['wall_s']:.2f} |" for k, v in result["libraries"].items()]
    lines += ["", "## Each stage's flow module (what `alignx run <stage>` imports before the flow starts)", "",
              "| stage | import s | heaviest packages (self time s) |", "|---|---:|---|"]
    for name, v in result["stage_imports"].items():
        heavy = ", ".join(f"{k} {s:.2f}" for k, s in list(v["packages_s"].items())[:6])
        lines.append(f"| {name} | {v['import_wall_s']:.2f} | {heavy} |")
    p, m, d = result["prefect"], result["mlflow"], result["dvc"]
    lines += ["", "## Services", "",
              f"- Prefect: import {p['import_s']:.2f} s; first flow run of a process {p['first_flow_run_s']:.2f} s "
              f"(starts a temporary local API; under `dvc repro` the stages share one server instead); a second run "
              f"{p['second_flow_run_s']:.2f} s",
              f"- MLflow: import {m['import_s']:.2f} s; open the store ({m['store_copy_of']}) and log one run "
              f"{m['store_and_run_s']:.2f} s",
              f"- DVC: `dvc --version` {d['version_s']:.2f} s; `dvc status space` {d['status_one_stage_s']:.2f} s", ""]
    write_results(out, "startup_profile", result, lines)


if __name__ == "__main__":
    main()
