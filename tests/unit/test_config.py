"""Typed params: every section of the real params.yaml parses; unknown keys and wrong types name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignx.config import SECTIONS, ConfigError, PairsConfig, TrainConfig, load_section, parse

REPO = Path(__file__).resolve().parents[2]


def test_every_section_of_params_yaml_parses_into_its_typed_config():
    for name, cls in SECTIONS.items():
        cfg = load_section(name, REPO / "params.yaml")
        assert isinstance(cfg, cls)
    pairs = load_section("pairs", REPO / "params.yaml")
    assert pairs.contrast_per_sign == (1, 2) and pairs.runner.kind == "process"  # lists become tuples, nested parsed


def test_unknown_key_is_an_error_naming_the_section_and_key():
    with pytest.raises(ConfigError, match=r"params.yaml train\.learning_rate: unknown key"):
        parse(TrainConfig, {"learning_rate": 1e-3}, "train")
    with pytest.raises(ConfigError, match=r"pairs\.runner\.threads: unknown key"):
        parse(PairsConfig, {"runner": {"threads": 2}}, "pairs")


def test_wrong_types_are_errors_naming_the_key():
    with pytest.raises(ConfigError, match=r"train\.epochs: expected an integer, got 'two'"):
        parse(TrainConfig, {"epochs": "two"}, "train")
    with pytest.raises(ConfigError, match=r"pairs\.shared_dims: expected 2 values"):
        parse(PairsConfig, {"shared_dims": [0, 1, 2]}, "pairs")
    with pytest.raises(ConfigError, match=r"global_batch 10 is not a multiple of micro_batch 4"):
        parse(TrainConfig, {"global_batch": 10, "micro_batch": 4}, "train")
    with pytest.raises(ConfigError, match=r"train\.length_group_steps: must be >= 0, got -1"):
        parse(TrainConfig, {"length_group_steps": -1}, "train")
    assert parse(TrainConfig, {"lr": 1}, "train").lr == 1.0  # an int where a float is declared is fine
    assert parse(TrainConfig, {"lr": "2e-4"}, "train").lr == 2e-4  # PyYAML reads 2e-4 (no dot) as a string
    with pytest.raises(ConfigError, match=r"train\.lr: expected a number, got 'fast'"):
        parse(TrainConfig, {"lr": "fast"}, "train")
    # The pre-import_dir form names the key and what it got.
    with pytest.raises(ConfigError, match=r"pairs\.source: expected str, got \{'alignx'"):
        parse(PairsConfig, {"source": {"alignx": "/data/alignx"}}, "pairs")


def test_per_aligner_train_values_apply_to_that_aligner_only():
    cfg = TrainConfig.from_params({"epochs": 1, "lr": 1e-3, "lora": {"rank": 4, "alpha": 8.0},
                                   "aligners": {"pba": {"epochs": 2, "lora": {"rank": 8}}}})
    pba, ica = cfg.for_aligner("pba"), cfg.for_aligner("ica")
    assert (pba.epochs, pba.lr, pba.lora.rank, pba.lora.alpha) == (2, 1e-3, 8, 8.0)  # lora merged key by key
    assert (ica.epochs, ica.lora.rank) == (1, 4)
    assert pba.aligners == {} and ica.aligners == {}


@pytest.mark.parametrize("aligners, message", [
    ({"pba": {"epoch": 2}}, r"train\.aligners\.pba\.epoch: unknown key"),
    ({"pba": {"epochs": "two"}}, r"train\.aligners\.pba\.epochs: expected an integer"),
    ({"dpo": {"epochs": 2}}, r"train\.aligners\.dpo: unknown aligner"),
    ({"pba": {"aligners": {}}}, r"train\.aligners\.pba\.aligners: overrides do not nest"),
])
def test_per_aligner_train_values_are_checked_like_the_section(aligners, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_params({"aligners": aligners})


@pytest.mark.parametrize("section, key, value, minimum", [
    ("train", "micro_batch", -8, 1), ("train", "global_batch", 0, 1), ("reference", "batch_size", -1, 1),
    ("evaluate", "batch_size", -4, 1), ("format", "max_len", 0, 8), ("train", "num_processes", 0, 1),
])
def test_counts_below_their_minimum_name_the_key_before_any_work(section, key, value, minimum):
    with pytest.raises(ConfigError, match=rf"params.yaml {section}\.{key}: must be >= {minimum}, got {value}"):
        parse(SECTIONS[section], {key: value}, section)
