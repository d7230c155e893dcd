"""Typed parameters: one dataclass per `params.yaml` section (DVC's one-section-per-stage layout).

    cfg = load_section("train")        # TrainConfig, every key checked; an unknown key is an error naming it

Each option is documented where it is declared, below; `params.yaml` holds the values and the reasons for
them. A section may leave options out (their defaults apply) but may not hold a key the dataclass lacks, so
a typo fails the stage instead of being silently ignored.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from alignx import space
from alignx.contracts import ALIGNERS, PBA_TRAIN_PROFILES

PARAMS_FILE = Path("params.yaml")
T = TypeVar("T")


class ConfigError(ValueError):
    """params.yaml is missing, malformed, or a section holds an unknown key or a value of the wrong type."""


def at_least(minimum: int, default: int) -> Any:
    """A count with a lower bound: `parse` rejects a smaller value naming the key, before any work starts."""
    return field(default=default, metadata={"min": minimum})


@dataclass(frozen=True)
class SpaceConfig:
    """`space`: the preference space and PBA's profile thresholds."""

    positive_threshold: float = 0.6  # a dimension is positive when the history's mean direction is >= this
    negative_threshold: float = 0.4  # ... and negative when <= this (the paper's 0.6 / 0.4)


@dataclass(frozen=True)
class PersonasConfig:
    """`personas`: the synthetic users (their true preference vectors) of every split."""

    seed: int = 0  # each chunk of users draws from SeedSequence([seed, split, chunk])
    users: dict[str, int] = field(default_factory=lambda: {"train": 1500, "val": 125, "test": 125, "novel": 60})
    active_dims: tuple[int, int] = (4, 6)  # inclusive range of a user's non-neutral dimensions
    focus_weight: float = 3.0  # sampling weight of a dimension in one of the user's two focus groups
    novel_dims: tuple[str, ...] = ()  # dimensions neutral for train/val/test users, preferred by novel users
    novel_active: tuple[int, int] = (2, 4)  # inclusive range of novel dimensions a novel user prefers along
    demo_mentions: tuple[int, int] = (2, 6)  # inclusive range of the user's dimensions DEMO mentions
    chunk_users: int = at_least(1, 10000)  # users per chunk (one parquet row group each)

    def __post_init__(self) -> None:
        if self.active_dims[0] < 2:
            raise ConfigError(f"params personas.active_dims: {list(self.active_dims)}: a user needs at least 2 "
                              "dimensions (one of each pole: every pair contrasts both poles)")
        self.novel_indices  # an unknown dimension name fails here, naming it

    @property
    def novel_indices(self) -> tuple[int, ...]:
        """Indices of `novel_dims` (the names of alignx.space.DIMENSIONS)."""
        by_name = {d.name: d.index for d in space.DIMENSIONS}
        unknown = [n for n in self.novel_dims if n not in by_name]
        if unknown:
            raise ConfigError(f"params personas.novel_dims: unknown dimension name(s) {unknown}")
        return tuple(by_name[n] for n in self.novel_dims)


@dataclass(frozen=True)
class RunnerConfig:
    """Prefect task runner of the `pairs` chunks."""

    kind: str = "process"  # process (local processes), thread, or dask (prefect-dask)
    workers: int | None = 2  # pool size (None: one per core)
    address: str = ""  # dask only: a scheduler address (tcp://host:8786); empty: a temporary local cluster


@dataclass(frozen=True)
class PairsConfig:
    """`pairs`: AlignX records, synthesised from the users or imported from released files."""

    source: str = "synthetic"  # `synthetic` (the simulated world), or `alignx` (the released files in import_dir)
    import_dir: str = "data/import"  # local folder of AlignX files (source alignx); a DVC dependency of `pairs`
    seed: int = 0  # each chunk of records draws from SeedSequence([seed, split, chunk])
    records_per_user: int = at_least(1, 8)  # preference pairs per user
    contrast_per_sign: tuple[int, int] = (1, 2)  # inclusive range: user dims of EACH pole a pair contrasts
    shared_dims: tuple[int, int] = (0, 1)  # inclusive range of indifferent dims both responses show alike
    comment_dims: tuple[int, int] = (2, 4)  # inclusive range of the user's dims a UGC comment shows
    ugc_items: tuple[int, int] = (1, 4)  # inclusive range of UGC history items per record (pool of 4)
    pair_items: tuple[int, int] = (1, 4)  # inclusive range of PAIR history items per record (pool of 4)
    choice_noise: float = 0.5  # logistic temperature of the user's choice (0: noiseless)
    minimal_pairs: bool = True  # both responses of a pair share all wording but the preference markers
    novel_boost: float = 0.3  # sampling bonus of novel dims in novel users' pairs and comments
    chunk_users: int = at_least(1, 500)  # users per generated chunk (one Prefect task)
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    on_bad_record: str = "fail"  # import: `fail` naming file/record/field, or `skip` and count
    val_fraction: float = 0.05  # import: share of users hashed into val when a file does not name its split
    test_fraction: float = 0.1  # import: ... and into test
    label_balance: tuple[float, float] = (0.45, 0.55)  # gate: share of "chosen more positive" labels on train
    max_shortcut: float = 0.1  # gate: length, position and tone readers at most 0.5 + this on train
    coverage: bool = True  # gate: every non-novel dimension is contrasted in train (off for partial imports)


@dataclass(frozen=True)
class BenchmarksConfig:
    """`benchmarks`: external benchmark files in the paper's JSON format."""

    root: str = "../shared/benchmarks"  # folder of the files: the stage's DVC dependency (dvc.yaml)
    files: dict[str, str] = field(default_factory=dict)  # name -> file under `root`
    on_bad_record: str = "fail"  # `fail` naming the record and field, or `skip` and count


@dataclass(frozen=True)
class TinyConfig:
    """The tiny Llama built from config (`base.model: tiny`)."""

    vocab_size: int = 4096  # byte-level BPE: 256 bytes + merges + PAD/BOS/EOS
    hidden_size: int = 128  # residual stream width
    intermediate_size: int = 384  # SwiGLU MLP width
    num_layers: int = 2  # decoder layers
    num_heads: int = 4  # attention heads (head dim = hidden_size / num_heads)
    num_kv_heads: int = 2  # key/value heads (grouped-query attention; divides num_heads)
    max_position_embeddings: int = 2048  # >= format.max_len
    tie_word_embeddings: bool = True  # share input embedding and LM head


@dataclass(frozen=True)
class WarmupConfig:
    """LM warm-up of the tiny model on rendered training inputs."""

    steps: int = at_least(0, 150)  # AdamW steps
    batch_size: int = at_least(1, 8)  # sequences per step
    seq_len: int = at_least(2, 256)  # tokens per packed sequence
    lr: float = 3e-3  # peak learning rate (10 % linear warm-up, cosine to 0.1 x lr)
    max_records: int = at_least(1, 3000)  # train records rendered for the corpus (a seeded sample)
    # The induction curriculum (alignx.modeling.warmup): before the world warm-up, `induction_steps` steps on
    # blocks of repeated random spans alone (its own batch shape, rate and optimizer: the induction heads form
    # in a phase change that needs enough tokens per step and a held rate), then `induction_share` of every
    # world warm-up batch is such blocks, so the model keeps copying from its context while it learns the text.
    induction_steps: int = at_least(0, 0)
    induction_share: float = 0.0
    induction_span: tuple[int, int] = (8, 48)  # inclusive span lengths in tokens of the repeated blocks
    induction_batch_size: int = at_least(1, 32)  # blocks per induction-phase step
    induction_seq_len: int = at_least(2, 128)  # tokens per induction-phase block
    induction_lr: float = 1e-3  # the induction phase's rate (50-step ramp, then constant)


@dataclass(frozen=True)
class BaseConfig:
    """`base`: the reference and starting model."""

    model: str = "tiny"  # tiny, smollm2, or hf:<local folder>
    dtype: str = "float32"  # weights dtype of smollm2 / hf models (tiny stays float32); every scoring pass runs in it
    seed: int = 0  # init and warm-up sample of the tiny model
    tiny: TinyConfig = field(default_factory=TinyConfig)
    warmup: WarmupConfig = field(default_factory=WarmupConfig)
    # In-context retrieval (alignx.modeling.retrieval), measured on any base: the copy probe on the first
    # `probe_records` val records' ICA examples, and the induction score. The gate fails a base below the floors
    # (0 turns a check off): ICA can only personalize with a base that reads its context.
    probe_records: int = at_least(1, 300)
    min_copy_probe: float = 0.0
    min_induction: float = 0.0


@dataclass(frozen=True)
class CounterfactualConfig:
    """`format.counterfactual`: counterfactual profiles added to PBA's *train* examples (alignx.inputs.counterfactual);
    val, test, novel and benchmarks are never augmented. Each train record draws, from its own seeded stream, whether
    it gets a `neutral` example (one label flipped on a dimension the pair does not contrast: same chosen and rejected)
    and whether it gets a `contrast` example (labels of dimensions the pair contrasts flipped until the profile
    favours the other response: chosen and rejected swapped). Both are extra examples beside the record's own."""

    seed: int = 0  # the per-record draws (which records, which dimensions), independent of format.seed's draws
    neutral: float = 0.0  # share of PBA train records that get a neutral-flip example (0: off)
    contrast: float = 0.0  # share of PBA train records that get a contrast-flip example (0: off)
    # What a counterfactual shows: `profile` (the example's whole profile with the change) or `flipped` (only the
    # labels changed: single-label profiles, the controllability probe's input).
    labels: str = "profile"

    def __post_init__(self) -> None:
        if self.labels not in ("profile", "flipped"):
            raise ConfigError(f"params.yaml format.counterfactual.labels: must be 'profile' or 'flipped', got {self.labels!r}")
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
    # true: the original's margin is a fixed target (no gradient through m(x)), so only the counterfactual moves;
    # false: both move towards each other (a flipped profile is as valid an input as the original).
    anchor: bool = False

    def __post_init__(self) -> None:
        if self.neutral < 0 or self.contrast < 0:
            raise ConfigError(f"params.yaml train.consistency: weights must be >= 0, got neutral {self.neutral} "
                              f"and contrast {self.contrast}")

    @property
    def on(self) -> bool:
        """Whether the term (and the batch plan that keeps an original with its counterfactuals) is used."""
        return self.neutral > 0 or self.contrast > 0


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


DIRECTION_USES = ("labelled", "predicted", "missing")


@dataclass(frozen=True)
class DirectionsConfig:
    """`directions`: the direction annotator (history item text -> 90-value direction) and where its
    predictions replace labels."""

    # Directions PBA's profiles are inferred from in format / eval_inputs: `labelled` (the items' own labels;
    # the annotator is trained and measured but not used), `predicted` (every item's direction predicted, its
    # label ignored), `missing` (predicted only where an item has none, e.g. a benchmark's PAIR history).
    use: str = "labelled"
    seed: int = 0  # torch init and batch order
    max_features: int = at_least(1, 50000)  # n-grams kept in the vocabulary (most frequent first)
    min_count: int = at_least(1, 2)  # an n-gram must occur in this many train texts to be kept
    max_words: int = at_least(1, 512)  # words read per text; a longer text is cut to its first max_words (documented fallback)
    order: int = at_least(1, 2)  # longest word n-gram read (2: uni- and bigrams)
    hidden: int = at_least(0, 0)  # width of the tanh layer (0: a linear model on the n-gram counts)
    epochs: int = at_least(1, 16)  # passes over the train items; the epoch with the best val macro-F1 is kept
    batch_size: int = at_least(1, 1024)  # items per AdamW step
    lr: float = 0.5  # AdamW learning rate
    weight_decay: float = 0.0  # AdamW decoupled weight decay
    threads: int = at_least(0, 0)  # torch intra-op threads of the stage (0: the stage's choice, alignx.threads)
    min_val_macro_f1: float = 0.5  # gate: the kept annotator's val macro-F1 must reach this

    def __post_init__(self) -> None:
        if self.use not in DIRECTION_USES:
            raise ConfigError(f"params.yaml directions.use: must be one of {DIRECTION_USES}, got {self.use!r}")


@dataclass(frozen=True)
class VplConfig:
    """`vpl`: the VPL baseline (variational preference learning, Poddar et al. 2024): an encoder of the user's
    context pairs gives a Gaussian latent user vector z that conditions a reward model on frozen base-model features
    (alignx.vpl); trained on the train split, scored on every eval set as one more baseline of `evaluate`."""

    seed: int = 0  # weights' initialisation, batch order, context subsets and z samples
    latent: int = at_least(1, 512)  # width of z (the paper's 512)
    hidden: int = at_least(1, 512)  # width of the pair encoder and of the reward MLP (the paper's 512)
    kl_weight: float = 1e-4  # weight of KL(q(z | context) || N(0, I)) beside the Bradley-Terry loss (paper: 1e-4)
    kl_anneal: float = 0.5  # share of the steps over which the KL weight ramps up linearly from 0 (VPL's annealing)
    epochs: int = at_least(1, 12)  # passes over the train pairs; the epoch with the best val accuracy is kept
    batch_size: int = at_least(1, 256)  # pairs per AdamW step
    lr: float = 1e-3  # AdamW learning rate (the network is small and its features frozen)
    weight_decay: float = 0.0  # AdamW decoupled weight decay
    train_users: int = at_least(0, 500)  # train users whose records VPL learns from, a seeded sample (0: all)
    feature_batch: int = at_least(1, 64)  # texts per forward pass of the base model when embedding
    max_tokens: int = at_least(8, 512)  # tokens read per text: the response (cut to this) and the end of the post
    device: str = "auto"  # where the base model embeds: auto (cuda when available), cpu, cuda
    min_val_accuracy: float = 0.45  # gate: val accuracy floor (a broken, e.g. sign-flipped, model scores far below 0.5; 0: off)


@dataclass(frozen=True)
class EvaluateConfig:
    """`evaluate`: alignment accuracy and the robustness / controllability experiments."""

    beta: float = 0.1  # implicit-reward beta (accuracy does not depend on it; margins scale with it)
    batch_size: int = at_least(1, 16)  # pairs per forward pass
    device: str = "auto"  # auto, cpu or cuda
    splits: tuple[str, ...] = ("test", "novel")  # eval splits; `test` is required
    robustness_records: int = at_least(0, 200)  # test records re-rendered with k = 1..4 history items (0: all)
    control_pairs_per_dim: int = at_least(1, 8)  # controllability: test pairs per dimension, non-neutral and neutral each
    control_dims: tuple[int, ...] = ()  # controllability dimensions (indices); empty: all 90
    seed: int = 0  # seed of the two subsamples above and of the bootstrap resamples
    bootstrap_resamples: int = at_least(1, 1000)  # cluster-bootstrap resamples (by user) behind every interval and p-value
    interval_level: float = 0.95  # two-sided level of the bootstrap intervals, in (0, 1)
    # Scoring processes: 1 scores in the stage's process; more run every scoring call of the measurements under the
    # `deepspeed` launcher (alignx.evaluation.parallel), each rank an interleaved share of each call's length-sorted
    # batches: the same bits, so the same figures, as one process.
    num_processes: int = at_least(1, 1)
    hostfile: str = ""  # DeepSpeed hostfile for several nodes ("" for this machine only); the parts folder must be shared

    def __post_init__(self) -> None:
        if not 0 < self.interval_level < 1:
            raise ConfigError(f"params.yaml evaluate.interval_level: must be in (0, 1), got {self.interval_level}")


@dataclass(frozen=True)
class JudgeConfig:
    """`generate.judge`: an LLM judge beside the known-truth one (real data has no known truth)."""

    model: str = ""  # hf:<local folder> of a causal LM judge; "" runs the known-truth judge only
    prompt: str = "src/alignx/generation/judge_prompt.txt"  # the pairwise prompt template (versioned in the repo)
    max_pairs: int = at_least(0, 0)  # comparisons the LLM judge reads per baseline, both orders each (0: all)


@dataclass(frozen=True)
class GenerateConfig:
    """`generate`: personalized responses of the aligner and both baselines, judged (alignx.generation)."""

    seed: int = 0  # record sample, control dimensions and the sampling seed (torch.manual_seed(seed + batch))
    records: dict[str, int] = field(default_factory=lambda: {"test": 96, "novel": 48})  # eval examples per split
    do_sample: bool = True  # sample (the paper's generation); false: greedy
    temperature: float = 0.9  # softmax temperature of sampling (paper: 0.9)
    top_k: int = at_least(0, 10)  # sample among the k most likely tokens (paper: 10)
    top_p: float = 0.95  # ... within the smallest set of probability mass top_p (paper: 0.95)
    max_new_tokens: int = at_least(1, 128)  # response budget; the prompt is cut from the left to format.max_len minus this
    batch_size: int = at_least(1, 16)  # prompts per generate call (left-padded, KV cache)
    control_dims: int = at_least(0, 12)  # PBA controllability: dimensions probed (seeded, never a novel one; 0: off)
    control_records: int = at_least(1, 2)  # ... test examples per dimension
    examples: int = at_least(0, 3)  # side-by-side examples in the report: same post, two users with opposite preferences
    min_non_empty: float = 0.5  # gate: least share of the aligner's responses that are not empty
    device: str = "auto"  # auto (GPU if present), cpu, cuda
    # Generating processes: 1 generates in the stage's process; more run every generate call under the `deepspeed`
    # launcher (alignx.generation.parallel), each rank an interleaved share of each call's batches, every batch
    # sampled from its own seed (seed + batch index): the same responses as one process.
    num_processes: int = at_least(1, 1)
    hostfile: str = ""  # DeepSpeed hostfile for several nodes ("" for this machine only); the parts folder must be shared
    judge: JudgeConfig = field(default_factory=JudgeConfig)


SECTIONS: dict[str, type] = {
    "space": SpaceConfig, "personas": PersonasConfig, "pairs": PairsConfig, "benchmarks": BenchmarksConfig,
    "base": BaseConfig, "format": FormatConfig, "reference": ReferenceConfig, "train": TrainConfig,
    "evaluate": EvaluateConfig, "directions": DirectionsConfig, "generate": GenerateConfig, "vpl": VplConfig,
}  # fmt: skip


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


def load_section(section: str, path: Path = PARAMS_FILE) -> Any:
    """The typed config of one section (see SECTIONS)."""
    if section not in SECTIONS:
        raise ConfigError(f"no typed config for section {section!r} (known: {', '.join(SECTIONS)})")
    return parse(SECTIONS[section], load_params(section, path), section)


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
