"""Every module a stage's flow imports (transitively, inside this project) is a DVC dependency of that stage.

A hand-listed dependency that drifts makes `dvc repro` skip a stage whose code changed: this test reads
dvc.yaml and the import statements of flows/ and src/alignx/ (no code is run) and names each gap.
"""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from alignx.contracts import FLOWS

ROOT = Path(__file__).resolve().parents[2]
# Imported by every entry point for process-wide settings (offline, telemetry); they change no stage output.
EXEMPT = {"src/alignx/__init__.py", "src/alignx/env.py"}


def module_file(name: str) -> Path | None:
    """The file of an `alignx...` or `flows...` module, or None for anything else."""
    parts = name.split(".")
    if parts[0] == "alignx":
        base = ROOT / "src" / Path(*parts)
    elif parts[0] == "flows":
        base = ROOT / Path(*parts)
    else:
        return None
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_files(path: Path) -> set[Path]:
    """Project files imported by `path`, including `from package import module` and function-level imports."""
    found: set[Path] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        for name in names:
            # `import a.b.c` also runs a/__init__.py and a/b/__init__.py
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                file = module_file(".".join(parts[:i]))
                if file is not None:
                    found.add(file)
    return found


def closure(start: Path) -> set[str]:
    seen: set[Path] = set()
    todo = [start]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(imported_files(path) - seen)
    return {p.relative_to(ROOT).as_posix() for p in seen} - EXEMPT


def stage_deps() -> dict[str, list[str]]:
    """DVC stage base name -> its code deps (a foreach stage's `do` block stands for all its items)."""
    doc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    deps = {}
    for name, spec in doc["stages"].items():
        body = spec.get("do", spec)
        deps[name] = [str(d if isinstance(d, str) else next(iter(d))) for d in body.get("deps", [])]
    return deps


def covered(file: str, deps: list[str]) -> bool:
    return any(file == d or file.startswith(d.rstrip("/") + "/") for d in deps)


def test_every_imported_module_is_a_dependency_of_its_stage():
    gaps = []
    for name, deps in stage_deps().items():
        flow_file = ROOT / (FLOWS[name].split(":")[0].replace(".", "/") + ".py")
        gaps += [f"{name}: {file}" for file in sorted(closure(flow_file)) if not covered(file, deps)]
    assert not gaps, "modules imported by a stage but missing from its dvc.yaml deps:\n" + "\n".join(gaps)


def test_the_check_sees_function_level_and_package_imports(tmp_path):
    # flows/train.py imports alignx.training.trainer, which imports alignx.training.flops inside `from alignx import checkpoint, flops`
    files = closure(ROOT / "flows" / "train.py")
    assert {"src/alignx/training/trainer.py", "src/alignx/training/flops.py", "src/alignx/pipeline/stage.py"} <= files
    assert not covered("src/alignx/training/flops.py", ["src/alignx/training/trainer.py", "src/alignx/world"])
    assert covered("src/alignx/world/pairs.py", ["src/alignx/world"])


def test_data_read_from_outside_the_pipeline_is_a_dependency_of_the_stage_that_reads_it():
    # Editing an imported AlignX record re-runs `pairs`; editing a benchmark file re-runs `benchmarks`.
    deps = stage_deps()
    assert "${pairs.import_dir}" in deps["pairs"] and "${benchmarks.root}" in deps["benchmarks"]
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert (ROOT / params["pairs"]["import_dir"]).is_dir()  # DVC fails on a missing dependency
