"""The `directions`, `vpl`, `evaluate` and `generate` sections: the direction annotator, the VPL baseline and what
measures the aligners."""

from __future__ import annotations

from dataclasses import dataclass, field

from alignx.config.parsing import ConfigError, at_least

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
