"""The registered scorer renders with the typed `format` and `space` sections, whatever layout its version logged."""

from __future__ import annotations

from alignx.config import FormatConfig, SpaceConfig, TrainConfig, as_dict
from alignx.evaluation.reward_model import render_configs
from alignx.training.registry import scoring_config


def test_a_new_registration_round_trips_the_sections():
    fmt, spc = FormatConfig(seed=3, max_len=777, pba_train_profile="oracle"), SpaceConfig(0.7, 0.3)
    logged = scoring_config("pba", TrainConfig(beta=0.2, micro_batch=4), fmt, spc)
    assert logged["aligner"] == "pba" and logged["beta"] == 0.2 and logged["batch_size"] == 4
    assert render_configs(logged) == (fmt, spc)


def test_a_version_logged_in_the_old_formatspec_layout_still_loads():
    # What versions registered before the typed sections logged: one mapping, `proportions`, thresholds inside.
    old = {"format": {"seed": 0, "max_len": 1536, "proportions": {"ugc": 0.25, "pair": 0.25, "demo": 0.25, "mixed": 0.25},
                      "positive_threshold": 0.6, "negative_threshold": 0.4, "pba_train_profile": "corrected",
                      "pba_one_label_share": 0.0}}
    fmt, spc = render_configs(old)
    assert fmt == FormatConfig() and spc == SpaceConfig()
    assert as_dict(fmt)["modes"] == old["format"]["proportions"]
