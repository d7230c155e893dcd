"""Shared fixtures: a real Prefect API (test harness), a real MLflow store per test, and a throwaway copy
of the repository for end-to-end runs of `dvc repro`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import alignx  # noqa: F401  (applies the project's offline and telemetry settings)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def prefect_api():
    """A temporary Prefect server for the whole session (flows run against it, as in production)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch) -> str:
    """A fresh sqlite MLflow store with a local artifact folder; returns its tracking URI."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_ARTIFACT_LOCATION", (tmp_path / "mlartifacts").as_uri())
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(None)


@pytest.fixture
def workdir(tmp_path, monkeypatch, mlflow_store, prefect_api) -> Path:
    """Run stages in process from a scratch folder holding the repo's params.yaml (stages use paths
    relative to the repository root, as DVC runs them)."""
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(REPO / "params.yaml", work / "params.yaml")
    monkeypatch.chdir(work)
    return work


def repo_files() -> list[str]:
    """Tracked files plus untracked ones git does not ignore: what a clean clone would hold."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout
    return [f for f in out.split("\0") if f and (REPO / f).is_file()]


def copy_repo(dest: Path) -> Path:
    """Copy the repository (as a clean clone would see it) to `dest` and commit it there."""
    for rel in repo_files():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, target)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "copy"]):
        subprocess.run(cmd, cwd=dest, check=True, env=env, capture_output=True)
    return dest


@pytest.fixture
def repo_copy(tmp_path) -> Path:
    """A committed copy of the repository in a temporary folder, with the shared folder beside it."""
    dest = copy_repo(tmp_path / "repo")
    if SHARED.exists():
        (tmp_path / "shared").symlink_to(SHARED)
    return dest


def run_cli(repo: Path, *cmd: str, env: dict | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run a command in `repo` with this venv first on PATH and a store local to the copy."""
    full_env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **(env or {})}
    # The copy's own stores: MLflow's mlflow.db and Prefect's home (`import alignx` set this process's PREFECT_HOME to
    # the checkout's .prefect; the command sets the copy's itself, alignx.env).
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_ARTIFACT_LOCATION", "PREFECT_HOME", "PREFECT_API_URL"):
        if not env or var not in env:
            full_env.pop(var, None)
    return subprocess.run(list(cmd), cwd=repo, env=full_env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def shared_dir() -> Path:
    """`../shared` beside the repository (benchmarks, docs); tests that need it skip when it is absent."""
    if not SHARED.exists():
        pytest.skip(f"{SHARED} is absent")
    return SHARED
