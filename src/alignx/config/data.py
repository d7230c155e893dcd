"""The `space`, `personas`, `pairs` and `benchmarks` sections: the preference space and the world's data."""

from __future__ import annotations

from dataclasses import dataclass, field

from alignx import space
from alignx.config.parsing import ConfigError, at_least


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
