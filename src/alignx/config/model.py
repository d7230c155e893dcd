"""The `base` section: the base model (built and warmed up, or read from a local folder) and its gate."""

from __future__ import annotations

from dataclasses import dataclass, field

from alignx.config.parsing import at_least


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
