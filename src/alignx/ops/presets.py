"""Presets: named sets of `params.yaml` overrides (`presets/<name>.yaml`, nested like params.yaml), run as a named
DVC experiment so the workspace's own params and outputs stay as they are:

    dvc exp run --temp -n <name> $(python -m alignx.ops.presets presets/<name>.yaml)     (make pipeline-<name>)

A key that params.yaml does not have is an error naming it, as the stage configs reject unknown keys. Params
in OUTSIDE_PATHS (folders outside the repository, relative to it) are also passed, made absolute: the temporary
copy of the workspace that `--temp` runs in (.dvc/tmp/exps/...) would not find them by the relative path.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml


OUTSIDE_PATHS = ("benchmarks.root",)


class PresetError(ValueError):
    """A preset file is unreadable or names a key params.yaml does not have."""


def overrides(preset: dict[str, Any], params: dict[str, Any], prefix: str = "") -> list[str]:
    """`key.path=value` for every leaf of `preset` (values as compact JSON, read back by DVC as YAML);
    each key must exist in `params`. A leaf may replace a whole list or mapping (e.g. `benchmarks.files`)."""
    out = []
    for key, value in preset.items():
        name = f"{prefix}{key}"
        if not isinstance(params, dict) or key not in params:
            raise PresetError(f"preset key {name!r} is not in params.yaml")
        if isinstance(value, dict) and value and isinstance(params[key], dict):
            out += overrides(value, params[key], f"{name}.")
            continue
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        if any(c.isspace() for c in text):
            raise PresetError(f"preset key {name!r}: value {text!r} has whitespace (not passable as one -S argument)")
        out.append(f"{name}={text}")
    return out


def load(path: Path, params_path: Path = Path("params.yaml")) -> list[str]:
    """The overrides of preset file `path` against `params_path`, then OUTSIDE_PATHS made absolute (the
    preset's value when it sets one, else params.yaml's), relative to the folder of `params_path`."""
    try:
        preset = yaml.safe_load(path.read_text()) or {}
        params = yaml.safe_load(params_path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise PresetError(f"{path}: {exc}") from exc
    try:
        items = overrides(preset, params)
    except PresetError as exc:
        raise PresetError(f"{path}: {exc}") from None
    values = dict(item.split("=", 1) for item in items)
    for key in OUTSIDE_PATHS:
        value = values.get(key) or _get(params, key)
        absolute = (params_path.resolve().parent / value).resolve()
        items = [i for i in items if not i.startswith(f"{key}=")] + [f"{key}={absolute}"]
    return items


def _get(params: dict[str, Any], key: str) -> str:
    for part in key.split("."):
        params = params[part]
    return str(params)


def main() -> None:
    """Print `-S key=value` arguments for `dvc exp run`, one per line."""
    try:
        print("\n".join(f"-S {item}" for item in load(Path(sys.argv[1]))))
    except (PresetError, IndexError) as exc:
        sys.exit(f"alignx presets: {exc or 'usage: python -m alignx.ops.presets presets/<name>.yaml'}")


if __name__ == "__main__":
    main()
