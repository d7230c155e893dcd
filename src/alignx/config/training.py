"""The `train` section: DPO on DeepSpeed, its adapters and its consistency term."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from alignx.config.parsing import ConfigError, as_dict, at_least, parse
from alignx.contracts import ALIGNERS


@dataclass(frozen=True)
class LoraConfig:
    """`train.lora`: low-rank adapters (peft) instead of training every weight; rank 0 trains every weight."""

    rank: int = 0  # adapter rank r (0: off, full fine-tuning)
    alpha: float = 16.0  # adapter scale alpha / r
    dropout: float = 0.0  # dropout on the adapter input (0 keeps the step-0 policy equal to the reference)
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

    def __post_init__(self) -> None:
        if self.rank < 0 or (self.rank and not self.target_modules):
            raise ConfigError(f"params.yaml train.lora: rank must be >= 0 with target_modules, got rank {self.rank} "
                              f"and target_modules {list(self.target_modules)}")


@dataclass(frozen=True)
class ConsistencyConfig:
    """`train.consistency`: a paired term tying each counterfactual train example (format.counterfactual) to its
    original in the same micro-batch (alignx.training.dpo.consistency_loss). Independent rows do not tell the model
    that the two versions of a pair must agree; this does. Both weights 0: the batch plan and the loss are today's."""

    # Weight of (m(x') - m(x))^2 for a neutral flip: a label the pair does not contrast must not move the pair's
    # DPO margin m (beta-scaled implicit-reward margin).
    neutral: float = 0.0
    # Weight of the same squared gap for a contrast flip, its pair swapped: flipping the decisive labels mirrors the
    # preference (m(x') = -m(x) in the original orientation), on top of the swapped pair's own DPO loss.
    contrast: float = 0.0
    # Weight of the squared gap between a neutral label's two poles (format.counterfactual.poles; each margin as its
    # row presents the pair, here the same way): a label the pair does not contrast must not move the margin. The
    # probe's neutral flips, trained where the probe looks; the model can meet it by ignoring the label, so it does
    # not fight the DPO loss.
    neutral_pole: float = 4.0
    # Weight of the same gap between a contrasted label's two poles, each presenting the response on its side as
    # chosen: the label moves the margin as far either way. A model that does not read the label yet meets it only
    # with margin 0, so early in training it pulls every contrasted margin to 0 (a full-weight tie made PBA learn
    # nothing: bench/results/controllability-2026-12-05T0906-*).
    contrast_pole: float = 0.0
    # Whether neutral counterfactuals and their poles also carry the DPO loss. A single label the pair does not
    # contrast (format.counterfactual.labels: flipped) says nothing about which response this user chose, so its
    # DPO target is noise: false leaves such rows the consistency term alone.
    neutral_dpo: bool = False
    # Share of the run's steps over which every tie weight rises linearly from 0 to its value (0: full weight from
    # the first step). A model that does not read single labels yet meets the neutral poles' tie most cheaply by
    # ignoring every single label; rising late, the tie meets a model that already reads them where the pair
    # contrasts them (the contrast poles' DPO loss), and only teaches it where not to.
    ramp: float = 0.5
    # true: the original's margin is a fixed target (no gradient through m(x)), so only the counterfactual moves;
    # false: both move towards each other (a flipped profile is as valid an input as the original).
    anchor: bool = False

    def __post_init__(self) -> None:
        weights = {kind: self.weight(kind) for kind in ("neutral", "contrast", "neutral_pole", "contrast_pole")}
        if min(weights.values()) < 0:
            raise ConfigError(f"params.yaml train.consistency: weights must be >= 0, got {weights}")
        if not 0.0 <= self.ramp <= 1.0:
            raise ConfigError(f"params.yaml train.consistency.ramp: a share of the run's steps in [0, 1], "
                              f"got {self.ramp}")

    def weight(self, kind: str) -> float:
        """The weight of a counterfactual kind's squared gap (alignx.inputs.counterfactual.KINDS: one key each)."""
        return getattr(self, kind)

    def scale(self, step: int, total: int) -> float:
        """The tie weights' factor at `step` of a `total`-step run (`ramp`: linear from 0, then 1)."""
        return 1.0 if self.ramp == 0 else min(1.0, step / (self.ramp * total))

    @property
    def on(self) -> bool:
        """Whether the term (and the batch plan that keeps an original with its counterfactuals) is used."""
        return self.neutral > 0 or self.contrast > 0 or self.neutral_pole > 0 or self.contrast_pole > 0


@dataclass(frozen=True)
class TrainConfig:
    """`train`: DPO on DeepSpeed (the defaults here mirror params.yaml)."""

    beta: float = 0.1  # DPO temperature on summed response log-probs
    nll_weight: float = 0.0  # weight of the chosen response's per-token NLL added to the DPO loss (0: DPO alone)
    lr: float = 1e-3  # peak AdamW learning rate
    min_lr_ratio: float = 0.1  # cosine decay ends at min_lr_ratio x lr
    warmup_ratio: float = 0.1  # fraction of optimizer steps in linear warm-up
    weight_decay: float = 0.0  # AdamW decoupled weight decay
    adam_betas: tuple[float, float] = (0.9, 0.95)  # AdamW (beta1, beta2)
    grad_clip: float = 1.0  # global gradient L2 norm clip (0: off)
    epochs: int = at_least(1, 1)  # passes over the train split
    max_steps: int = at_least(0, 0)  # stop after this many optimizer steps (0: all epochs)
    global_batch: int = at_least(1, 16)  # pairs per optimizer step over all processes
    micro_batch: int = at_least(1, 8)  # pairs per forward pass and process
    length_group_steps: int = at_least(0, 0)  # k > 1: steps hold examples of similar length, sorted within k-step windows (0: off)
    zero_stage: int = 0  # DeepSpeed ZeRO stage 0-3
    bf16: bool = False  # bf16 weights and activations (fp32 master weights)
    seed: int = 0  # batch order and torch RNG
    checkpoint_every: int = at_least(1, 120)  # resumable checkpoint every N optimizer steps
    val_points: int = at_least(1, 4)  # val loss / accuracy measured this many times, evenly spaced, the last at the end
    num_processes: int = at_least(1, 1)  # 1: in the stage's process; more: under the `deepspeed` launcher
    hostfile: str = ""  # DeepSpeed hostfile for several nodes
    threads: int = at_least(0, 0)  # torch intra-op threads per process (0: the stage's choice, alignx.threads)
    packed: bool = True  # one pass over prompt + chosen + rejected (Llama family; others always two sequences)
    lora: LoraConfig = field(default_factory=LoraConfig)  # low-rank adapters (rank 0: every weight trains)
    # Paired consistency of counterfactual examples with their originals (weights 0: off, today's training).
    consistency: ConsistencyConfig = field(default_factory=ConsistencyConfig)
    # Per-aligner values of the keys above, for that aligner's run only, e.g. {pba: {epochs: 2}} (a nested key such
    # as lora is merged key by key). Checked like the section itself.
    aligners: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.zero_stage not in (0, 1, 2, 3):
            raise ConfigError(f"params.yaml train.zero_stage: must be 0-3, got {self.zero_stage}")
        if self.global_batch % self.micro_batch:
            raise ConfigError(f"params.yaml train: global_batch {self.global_batch} is not a multiple of "
                              f"micro_batch {self.micro_batch}")
        for aligner, values in self.aligners.items():
            if aligner not in ALIGNERS:
                raise ConfigError(f"params.yaml train.aligners.{aligner}: unknown aligner (known: {', '.join(ALIGNERS)})")
            if "aligners" in values:
                raise ConfigError(f"params.yaml train.aligners.{aligner}.aligners: overrides do not nest")
            self.for_aligner(aligner)  # an unknown key or a wrong type fails here, naming it

    def for_aligner(self, aligner: str) -> TrainConfig:
        """The config `aligner` trains with: the section with `aligners[aligner]` written over it."""
        merged = {k: v for k, v in as_dict(self).items() if k != "aligners"}
        for key, value in self.aligners.get(aligner, {}).items():
            nested = isinstance(merged.get(key), dict) and isinstance(value, dict)
            merged[key] = {**merged[key], **value} if nested else value
        return parse(TrainConfig, merged, f"train.aligners.{aligner}")

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> TrainConfig:
        """From a `train` mapping (unknown keys rejected)."""
        return parse(cls, params, "train")
