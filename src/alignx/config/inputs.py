"""The `format` and `reference` sections: the aligners' examples and their reference log-probs."""

from __future__ import annotations

from dataclasses import dataclass, field

from alignx.config.parsing import ConfigError, at_least
from alignx.contracts import PBA_TRAIN_PROFILES


@dataclass(frozen=True)
class CounterfactualConfig:
    """`format.counterfactual`: counterfactual profiles added to PBA's *train* examples (alignx.inputs.counterfactual);
    val, test, novel and benchmarks are never augmented. Each train record draws, from its own seeded stream, whether
    it gets a `neutral` example (one label flipped on a dimension the pair does not contrast: same chosen and rejected)
    and whether it gets a `contrast` example (labels of dimensions the pair contrasts flipped until the profile
    favours the other response: chosen and rejected swapped). Both are extra examples beside the record's own."""

    seed: int = 0  # the per-record draws (which records, which dimensions), independent of format.seed's draws
    neutral: float = 0.5  # share of PBA train records that get a neutral-flip example (0: off)
    contrast: float = 0.5  # share of PBA train records that get a contrast-flip example (0: off)
    # What a counterfactual shows: `profile` (the example's whole profile with the change) or `flipped` (only the
    # labels changed: single-label profiles, the controllability probe's input).
    labels: str = "flipped"
    # With single labels (`labels: flipped`): each counterfactual also written with its label at the other pole,
    # the pair as that pole presents it, the probe's two inputs side by side (tied by train.consistency.neutral_pole
    # and contrast_pole).
    poles: bool = True

    def __post_init__(self) -> None:
        if self.labels not in ("profile", "flipped"):
            raise ConfigError(f"params.yaml format.counterfactual.labels: must be 'profile' or 'flipped', got {self.labels!r}")
        if self.poles and self.labels != "flipped":
            raise ConfigError("params.yaml format.counterfactual.poles: needs single-label counterfactuals "
                              f"(labels: flipped), got labels {self.labels!r}")
        for key in ("neutral", "contrast"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ConfigError(f"params.yaml format.counterfactual.{key}: must be a share in [0, 1], "
                                  f"got {getattr(self, key)!r}")


@dataclass(frozen=True)
class FormatConfig:
    """`format`: persona sampling and tokenization of ICA and PBA examples (train, eval and benchmarks alike)."""

    seed: int = 0  # per-record persona draws (each record has its own stream)
    max_len: int = at_least(8, 1536)  # longest prompt + longer response, in tokens; personas are cut to fit
    modes: dict[str, float] = field(default_factory=lambda: {"ugc": 0.25, "pair": 0.25, "demo": 0.25, "mixed": 0.25})
    chunk_rows: int = at_least(1, 4096)  # records formatted per chunk (bounds memory)
    # Profile of PBA's *train* examples: `inferred` from the history shown (as at evaluation), `oracle` (the record's
    # own direction vector: the preference the pair was judged by, no history shown), or `corrected` (the inferred
    # one with the record's direction written over it). Val, test, novel and benchmarks are always inferred (or given).
    pba_train_profile: str = "corrected"
    # Share of PBA train examples (oracle / corrected) that show ONE of the pair's judged labels only, drawn per
    # record: the model learns what a single dimension's label does (the controllability probe's input).
    pba_one_label_share: float = 0.0
    # Counterfactual profiles beside PBA's train examples: labels flipped with the preference kept (a dimension the
    # pair does not contrast) or reversed (dimensions it contrasts); what the controllability probe measures.
    counterfactual: CounterfactualConfig = field(default_factory=CounterfactualConfig)

    def __post_init__(self) -> None:
        if self.pba_train_profile not in PBA_TRAIN_PROFILES:
            raise ConfigError(f"params.yaml format.pba_train_profile: must be one of {PBA_TRAIN_PROFILES}, "
                              f"got {self.pba_train_profile!r}")


@dataclass(frozen=True)
class ReferenceConfig:
    """`reference`: base-model log-probs of the examples training reads and of every eval input, in one process
    or across several (alignx.modeling.parallel_scoring)."""

    batch_size: int = at_least(1, 32)  # examples per forward pass (2 x batch_size sequences)
    device: str = "auto"  # auto (GPU if present; with several processes, rank r's GPU), cpu, cuda, cuda:1, ...
    # Scoring processes (reference and eval_inputs): 1 scores in the stage's process; more run under the `deepspeed`
    # launcher as training does, each scoring an interleaved share of the length-sorted batches (the same bits).
    num_processes: int = at_least(1, 1)
    hostfile: str = ""  # DeepSpeed hostfile for several nodes ("" for this machine only); the parts folder must be shared
