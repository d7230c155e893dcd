"""Typed parameters: one dataclass per `params.yaml` section (DVC's one-section-per-stage layout).

    cfg = load_section("train")        # TrainConfig, every key checked; an unknown key is an error naming it

Each option is documented where it is declared, in the module of its stage's sections (data, model, inputs,
training, evaluation; `parsing` reads and checks the file); `params.yaml` holds the values and the reasons for
them. Everything is importable from `alignx.config` itself. A section may leave options out (their defaults apply) but may not hold a key the dataclass lacks, so
a typo fails the stage instead of being silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The sections and the reader, re-exported: callers import them from alignx.config.
from alignx.config.data import BenchmarksConfig, PairsConfig, PersonasConfig, RunnerConfig, SpaceConfig  # noqa: F401
from alignx.config.evaluation import (  # noqa: F401
    DIRECTION_USES, DirectionsConfig, EvaluateConfig, GenerateConfig, JudgeConfig, VplConfig,
)
from alignx.config.inputs import CounterfactualConfig, FormatConfig, ReferenceConfig  # noqa: F401
from alignx.config.model import BaseConfig, TinyConfig, WarmupConfig  # noqa: F401
from alignx.config.parsing import PARAMS_FILE, ConfigError, as_dict, at_least, load_params, parse  # noqa: F401
from alignx.config.training import ConsistencyConfig, LoraConfig, TrainConfig  # noqa: F401

SECTIONS: dict[str, type] = {
    "space": SpaceConfig, "personas": PersonasConfig, "pairs": PairsConfig, "benchmarks": BenchmarksConfig,
    "base": BaseConfig, "format": FormatConfig, "reference": ReferenceConfig, "train": TrainConfig,
    "evaluate": EvaluateConfig, "directions": DirectionsConfig, "generate": GenerateConfig, "vpl": VplConfig,
}  # fmt: skip


def load_section(section: str, path: Path = PARAMS_FILE) -> Any:
    """The typed config of one section (see SECTIONS)."""
    if section not in SECTIONS:
        raise ConfigError(f"no typed config for section {section!r} (known: {', '.join(SECTIONS)})")
    return parse(SECTIONS[section], load_params(section, path), section)
