"""Presets: a preset file becomes `dvc exp run -S` overrides, and a key params.yaml lacks is an error naming it."""

from pathlib import Path

import pytest
import yaml

from alignx.ops.presets import PresetError, load, overrides

PARAMS = {"base": {"model": "tiny", "tiny": {"hidden_size": 128}}, "train": {"lr": 1e-3, "lora": {"rank": 0}},
          "pairs": {"ugc_items": [1, 4]}, "benchmarks": {"files": {"p-soups": "a.json"}}}


def test_leaves_become_key_paths_with_compact_json_values():
    preset = {"base": {"model": "smollm2"}, "train": {"lr": 0.0002, "lora": {"rank": 16}}, "pairs": {"ugc_items": [1, 2]}}
    assert overrides(preset, PARAMS) == ["base.model=smollm2", "train.lr=0.0002", "train.lora.rank=16",
                                         "pairs.ugc_items=[1,2]"]


def test_a_leaf_may_replace_a_whole_mapping():
    assert overrides({"benchmarks": {"files": {}}}, PARAMS) == ["benchmarks.files={}"]


def test_unknown_keys_and_unpassable_values_are_errors_naming_the_key():
    with pytest.raises(PresetError, match=r"preset key 'train.learning_rate' is not in params.yaml"):
        overrides({"train": {"learning_rate": 1}}, PARAMS)
    with pytest.raises(PresetError, match=r"preset key 'base.model': value 'a b' has whitespace"):
        overrides({"base": {"model": "a b"}}, PARAMS)


def test_the_shipped_presets_match_params_yaml():
    root = Path(__file__).resolve().parents[2]
    presets = sorted((root / "presets").glob("*.yaml"))
    assert presets, "no preset files"
    for path in presets:
        items = load(path, root / "params.yaml")
        assert items and all("=" in item for item in items)
        # the temporary workspace copy of `dvc exp run --temp` finds the benchmarks by absolute path
        root_item = next(i for i in items if i.startswith("benchmarks.root="))
        assert Path(root_item.split("=", 1)[1]).is_absolute()
        assert yaml.safe_load(path.read_text())  # documented YAML, not empty
