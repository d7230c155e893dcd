"""A stage's input datasets as MLflow run inputs (`mlflow.log_input`): the data and model folders its dvc.yaml
entry depends on, each as a small meta dataset (its path and a digest of its files; never a copy of the data).

A stage run then shows in the MLflow UI which inputs it read, and two runs that read the same bytes show the same
digest. The dependencies are dvc.yaml's, so the list stays the one DVC checks (tests/pipeline/test_dvc_deps.py).
"""

from __future__ import annotations

import hashlib
import re
import warnings
from pathlib import Path

import mlflow
import yaml

# dvc.yaml dependencies under these folders are data (code dependencies, src/ and flows/, are not datasets).
DATA_ROOTS = ("data", "models")
# Files up to this size are digested by content; larger ones (model weights at scale) by name, size and mtime,
# so that a stage never reads gigabytes only to name its input.
CONTENT_DIGEST_MAX_BYTES = 64 * 2**20


def stage_inputs(stage: str, dvc_file: Path = Path("dvc.yaml"), params_file: Path = Path("params.yaml")) -> list[Path]:
    """The data dependencies of DVC stage `stage` (e.g. `train@pba`: its `${item}` filled in, `${...}` params
    references resolved from params.yaml) that exist: folders under DATA_ROOTS and folders outside the
    repository (the benchmark files)."""
    if not dvc_file.exists():
        return []
    base, _, key = stage.partition("@")
    body = ((yaml.safe_load(dvc_file.read_text()) or {}).get("stages") or {}).get(base) or {}
    foreach = body.get("foreach")
    # ${key} is the foreach key; ${item} the list item, or the mapping's value (${item.records}).
    scope = {"key": key, "item": foreach.get(key, {}) if isinstance(foreach, dict) else key}
    body = body.get("do", body)
    params = yaml.safe_load(params_file.read_text()) if params_file.exists() else {}

    def resolve(dep: str) -> str:
        def lookup(match: re.Match) -> str:
            head, *rest = match.group(1).split(".")
            value = scope[head] if head in scope else (params or {}).get(head, {})
            for part in rest:
                value = value.get(part, {}) if isinstance(value, dict) else {}
            return str(value)

        return re.sub(r"\$\{([^}]+)\}", lookup, dep)

    deps = [Path(resolve(d if isinstance(d, str) else next(iter(d)))) for d in body.get("deps", [])]
    return [d for d in deps if (d.parts[:1] and d.parts[0] in DATA_ROOTS or d.parts[:1] == ("..",)) and d.exists()]


def digest(path: Path) -> str:
    """A short digest of a file or folder: every file's relative path and content (or size and mtime when it is
    larger than CONTENT_DIGEST_MAX_BYTES)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        h.update(str(file.relative_to(path) if path.is_dir() else file.name).encode() + b"\0")
        stat = file.stat()
        if stat.st_size <= CONTENT_DIGEST_MAX_BYTES:
            with file.open("rb") as handle:
                for block in iter(lambda: handle.read(2**20), b""):
                    h.update(block)
        else:
            h.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def log_stage_inputs(stage: str) -> list[str]:
    """Log every data dependency of `stage` as an input dataset of the active MLflow run (context `input`, named
    by its path); return the names logged."""
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    names = []
    for path in stage_inputs(stage):
        name = path.as_posix()
        with warnings.catch_warnings(action="ignore", category=UserWarning):  # MLflow: two sources for file URIs
            source = resolve_dataset_source(path.resolve().as_uri())
        mlflow.log_input(MetaDataset(source, name=name, digest=digest(path)), context="input")
        names.append(name)
    return names
