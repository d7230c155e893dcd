"""Reading `params.yaml` into typed sections: the file, the type checks and the errors that name the key."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import field
from pathlib import Path
from typing import Any, TypeVar

import yaml

PARAMS_FILE = Path("params.yaml")


T = TypeVar("T")


class ConfigError(ValueError):
    """params.yaml is missing, malformed, or a section holds an unknown key or a value of the wrong type."""


def at_least(minimum: int, default: int) -> Any:
    """A count with a lower bound: `parse` rejects a smaller value naming the key, before any work starts."""
    return field(default=default, metadata={"min": minimum})


def load_params(section: str | None = None, path: Path = PARAMS_FILE) -> dict[str, Any]:
    """The raw mapping of `params.yaml`, or of one section. Stages run from the repository root, as DVC runs them."""
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


def parse(cls: type[T], data: Any, where: str) -> T:
    """Build dataclass `cls` from a mapping; unknown keys and wrongly typed values raise ConfigError naming them."""
    if not isinstance(data, dict):
        raise ConfigError(f"params.yaml {where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"params.yaml {where}.{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")
    values = {name: _convert(hints[name], value, f"{where}.{name}") for name, value in data.items()}
    for f in dataclasses.fields(cls):
        minimum = f.metadata.get("min")
        if minimum is not None and f.name in values and values[f.name] < minimum:
            raise ConfigError(f"params.yaml {where}.{f.name}: must be >= {minimum}, got {values[f.name]}")
    try:
        return cls(**values)
    except TypeError as exc:  # pragma: no cover - every field has a default
        raise ConfigError(f"params.yaml {where}: {exc}") from exc


def _convert(hint: Any, value: Any, where: str) -> Any:
    """`value` checked against type `hint` (YAML lists become tuples where the field is a tuple)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return parse(hint, value if value is not None else {}, where)
    if origin in (typing.Union, types.UnionType):
        for option in args:
            try:
                return _convert(option, value, where)
            except ConfigError:
                continue
        raise ConfigError(f"params.yaml {where}: {value!r} fits none of {hint}")
    if hint is type(None):
        if value is not None:
            raise ConfigError(f"params.yaml {where}: expected null, got {value!r}")
        return None
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"params.yaml {where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"params.yaml {where}: expected {len(args)} values, got {list(value)}")
        return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"params.yaml {where}: expected a mapping, got {value!r}")
        return {_convert(args[0], k, where): _convert(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if hint is float:
        if isinstance(value, str):  # PyYAML (YAML 1.1) reads `2e-4`, without a dot, as a string
            try:
                return float(value)
            except ValueError:
                raise ConfigError(f"params.yaml {where}: expected a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"params.yaml {where}: expected a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"params.yaml {where}: expected an integer, got {value!r}")
        return value
    if hint in (bool, str):
        if not isinstance(value, hint):
            raise ConfigError(f"params.yaml {where}: expected {hint.__name__}, got {value!r}")
        return value
    return value


def as_dict(cfg: Any) -> dict[str, Any]:
    """A config as plain data (for MLflow params and JSON)."""
    return dataclasses.asdict(cfg)
