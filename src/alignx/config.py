"""Parameters (`params.yaml`, one section per stage) and the project's paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

PARAMS_FILE = Path("params.yaml")


class ConfigError(ValueError):
    """params.yaml is missing, malformed, or lacks a section a stage needs."""


def load_params(section: str | None = None, path: Path = PARAMS_FILE) -> dict[str, Any]:
    """The whole of `params.yaml`, or one section of it. Stages run from the repository root, as DVC runs them."""
    if not path.exists():
        raise ConfigError(f"{path.resolve()}: not found (run from the repository root)")
    with path.open() as fh:
        params = yaml.safe_load(fh) or {}
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(params).__name__}")
    if section is None:
        return params
    if section not in params:
        raise ConfigError(f"{path}: no section {section!r} (sections: {', '.join(params)})")
    return params[section] or {}
