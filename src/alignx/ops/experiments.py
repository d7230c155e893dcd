"""`dvc exp run --temp` and `--queue` in the temporary copy DVC makes of the repository (.dvc/tmp/exps/tmp<random>,
or .dvc/tmp/exps/standalone/tmp<random> for --temp).

The repository's own state needs nothing here: the stages find the MLflow store, Prefect's home and a running
`make serve` through DVC_ROOT, which DVC sets to the original repository in an experiment (alignx.env.repo_root).
What a copy lacks are folders outside the repository named by a relative path, such as `benchmarks.root:
../shared/benchmarks`, a DVC dependency that DVC checks before the stage starts: from the copy, `..` is a folder
of .dvc/tmp/exps. `link_outside(repo)` links each such top folder there, so the same relative path leads to the
same files from the repository and from every copy. `make install` and every `alignx run` call it (idempotent).

    python -m alignx.ops.experiments     (links for the repository in the working folder)
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from alignx.ops.presets import OUTSIDE_PATHS

# Where DVC makes the temporary copies, relative to the repository: a copy's `..` is one of these folders.
COPY_PARENTS = (Path(".dvc/tmp/exps"), Path(".dvc/tmp/exps/standalone"))


def outside_tops(params: dict) -> set[str]:
    """The first component below `..` of every OUTSIDE_PATHS param that is a relative path leaving the repository
    (`shared` for `../shared/benchmarks`)."""
    tops = set()
    for key in OUTSIDE_PATHS:
        value: object = params
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        parts = Path(str(value)).parts if isinstance(value, str) else ()
        if len(parts) >= 2 and parts[0] == ".." and parts[1] != "..":
            tops.add(parts[1])
    return tops


def link_outside(repo: Path) -> list[Path]:
    """Link `<repo>/<copy parent>/<top>` to `<repo>/../<top>` for every outside folder that exists; return the
    links made now (existing ones are kept)."""
    params_file = repo / "params.yaml"
    if not params_file.exists() or not (repo / ".dvc").is_dir():
        return []
    made = []
    for top in outside_tops(yaml.safe_load(params_file.read_text()) or {}):
        target = (repo / ".." / top).resolve()
        if not target.is_dir():
            continue
        for parent in COPY_PARENTS:
            link = repo / parent / top
            if link.is_symlink() or link.exists():
                continue
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(target, target_is_directory=True)
            made.append(link)
    return made


if __name__ == "__main__":
    for made in link_outside(Path.cwd()):
        print(f"alignx: linked {made} -> {made.resolve()} (for dvc exp run --temp / --queue)")
    sys.exit(0)
