"""The Docker images (no engine here to build them): hadolint-clean, pinned, non-root, dependencies before the
source, and every command and file they use exists in the repository and its build context."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
import re
import subprocess

import pytest

from tests.conftest import BIN, REPO, repo_files

DOCKERFILES = ["Dockerfile", "Dockerfile.cuda"]


def instructions(name: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (REPO / name).read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def build_context() -> set[str]:
    """The repository files a `docker build .` sends, per .dockerignore (its simple patterns)."""
    patterns = [p.strip() for p in (REPO / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]

    def ignored(path: str) -> bool:
        parts = path.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]  # `data` excludes `data/x/y`
        for pattern in patterns:
            if pattern.startswith("**/"):  # any folder level
                if any(fnmatch.fnmatch(part, pattern[3:]) for part in parts):
                    return True
            elif any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes):
                return True
        return False

    return {f for f in repo_files() if not ignored(f)}


@pytest.mark.parametrize("name", DOCKERFILES)
def test_hadolint_clean(name):
    done = subprocess.run([str(BIN / "hadolint"), "--no-color", str(REPO / name)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", DOCKERFILES)
def test_pinned_non_root_and_dependencies_before_source(name):
    steps = instructions(name)
    image = next(args for op, args in steps if op == "FROM")
    assert re.fullmatch(r"[\w./-]+:\d[\w.-]*", image), f"{name}: base image {image!r} is not pinned to a version"
    users = [args for op, args in steps if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), f"{name}: runs as root"
    copies = [i for i, (op, _) in enumerate(steps) if op == "COPY"]
    source = next(i for i in copies if steps[i][1].split()[-2:] == [".", "."])
    deps = next(i for i, (op, args) in enumerate(steps) if op == "RUN" and "requirements.txt" in args)
    assert deps < source, f"{name}: dependencies must be installed before the source is copied"
    assert "torch==2.13.0" in steps[deps][1], f"{name}: torch is not pinned"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_commands_and_files_exist(name):
    steps = instructions(name)
    context = build_context()
    for op, args in steps:
        if op == "COPY" and args.split()[-2:] != [".", "."]:
            for src in [a for a in args.split()[:-1] if not a.startswith("--")]:
                assert src in context, f"{name}: COPY {src} is not in the build context"
    for needed in ("pyproject.toml", "Makefile", "dvc.yaml", "params.yaml", ".dvc/config", "src/alignx/ops/cli.py"):
        assert needed in context, f"{needed} is excluded from the build context by .dockerignore"
    assert not any(f.startswith((".venv/", "mlartifacts/", ".git/")) or f == "mlflow.db" for f in context)

    cmd = json.loads(next(args for op, args in steps if op == "CMD"))
    assert cmd[0] == "make", f"{name}: the image's command is a Makefile target"
    dry = subprocess.run(["make", "-n", "-C", str(REPO), cmd[1]], capture_output=True, text=True)
    assert dry.returncode == 0, f"{name}: `make {cmd[1]}` does not exist: {dry.stderr}"


def test_cuda_image_trains_under_the_deepspeed_launcher():
    steps = instructions("Dockerfile.cuda")
    assert not any("whl/cpu" in args for _, args in steps), "the CUDA image must not install the CPU torch wheel"
    cmd = json.loads(next(args for op, args in steps if op == "CMD"))
    dry = subprocess.run(["make", "-n", "-C", str(REPO), *cmd[1:], "GPUS=4"], capture_output=True, text=True).stdout
    # train.num_processes > 1 makes the train stage start `deepspeed --num_gpus N --module alignx.training.trainer`.
    assert "dvc exp run -S train.num_processes=4" in dry
    from alignx.config import TrainConfig
    from alignx.training.launch import launcher_command

    launcher = launcher_command(TrainConfig(num_processes=4), Path("spec.json"))
    assert Path(launcher[0]).name == "deepspeed"
    assert launcher[launcher.index("--num_gpus") + 1] == "4"
    assert launcher[launcher.index("--module") + 1] == "alignx.training.trainer"
