"""Names the stages agree on: record fields, splits, aligners, persona modes, artifact paths, registry names.

Every module reads these from here, so a renamed field or moved folder is changed once. Paths are relative to
the repository root, where DVC runs each stage.
"""

from __future__ import annotations

from pathlib import Path

# --- AlignX record fields (the released dataset's names, docs/architecture.md) ---
DIRECTION = "Preference Direction"  # 90-vector: 1 chosen more positive, 0 chosen more negative, 0.5 neutral
DEMO = "Demographic Information"  # the DEMO persona: a natural-language self-description
UGC = "User-Generated Content"  # list of {prompt, comment, direction}: comments the user wrote
PAIR = "Pair-wise Comparative Feedback"  # list of {prompt, chosen, rejected, direction}: pairs the user judged
MAX_ITEMS = 4  # a record holds at most 4 UGC and 4 PAIR items

# --- splits, aligners, persona modes ---
SPLITS = ("train", "val", "test", "novel")  # split by user; `novel` users prefer along dimensions no one else does
TRAIN_SPLITS = ("train", "val")  # what `format` / `reference` prepare for training (val: model selection)
EVAL_SPLITS = ("test", "novel")  # scored only by `evaluate`, prepared apart (`eval_inputs@splits`)
ALIGNERS = ("ica", "pba")  # in-context alignment, preference-bridged alignment
MODES = ("ugc", "pair", "demo", "mixed")  # persona shown: UGC only, PAIR only, DEMO only, a mix
PBA_TRAIN_PROFILES = ("inferred", "oracle", "corrected")  # profile shown in PBA train examples (params format)

# --- artifact paths (the DVC outs of dvc.yaml) ---
SPACE_FILE = Path("data/space/preference_space.json")
USERS_FILE = Path("data/personas/users.parquet")
PAIRS_DIR = Path("data/pairs")  # <split>.parquet in the record schema
BENCHMARKS_DIR = Path("data/benchmarks")  # <benchmark>.parquet + manifest.json
BASE_DIR = Path("models/base")  # reference and starting model (HF folder)
FORMAT_DIR = Path("data/format")  # <aligner>/<train split>.parquet: tokenized examples
REFERENCE_DIR = Path("data/reference")  # <aligner>/<train split>.parquet: base-model log-probs
EVAL_DIR = Path("data/eval")  # <group>/{format,reference}/<aligner>/<name>.parquet, group: splits | benchmarks
EVAL_GROUPS = ("splits", "benchmarks")
ANNOTATOR_DIR = Path("models/annotator")  # the direction annotator: model.safetensors + annotator.json
VPL_DIR = Path("models/vpl")  # the VPL baseline: model.safetensors + vpl.json (stage `vpl`)
VPL_SCORES_DIR = EVAL_DIR / "vpl"  # <aligner>/<eval set>.parquet: VPL's rewards of each eval example
BASE_METRICS = Path("metrics/base.json")  # the base model's in-context retrieval and warm-up figures
VPL_METRICS = Path("metrics/vpl.json")  # VPL's accuracy per eval set and persona mode


def vpl_scores_file(aligner: str, name: str) -> Path:
    """VPL's rewards of the eval set `name` as the aligner's examples show it (their PAIR items as context)."""
    return VPL_SCORES_DIR / aligner / f"{name}.parquet"


def model_dir(aligner: str) -> Path:
    """Exported (gated) aligner: `models/<aligner>`."""
    return Path("models") / aligner


GENERATE_DIR = Path("data/generate")  # <aligner>/{generations.parquet, summary.json}: stage generate@<aligner>


def generate_dir(aligner: str) -> Path:
    """Judged responses of an aligner and its baselines: `data/generate/<aligner>`."""
    return GENERATE_DIR / aligner


def metrics_file(aligner: str) -> Path:
    return Path("metrics") / f"{aligner}.json"


def train_metrics_file(aligner: str) -> Path:
    """What `train@<aligner>` measured (val accuracy, steps, speed): `metrics/train_<aligner>.json`, which
    `dvc exp show` lists beside the params of each experiment."""
    return Path("metrics") / f"train_{aligner}.json"


def report_file(aligner: str) -> Path:
    return Path("reports") / f"{aligner}.md"


def plots_dir(aligner: str) -> Path:
    return Path("plots") / aligner


# --- MLflow registry ---
CANDIDATE, CHAMPION = "candidate", "champion"  # aliases: set by `train`, moved by `evaluate`


def registered_name(aligner: str) -> str:
    """The registry name of an aligner (`alignx-ica`, `alignx-pba`)."""
    return f"alignx-{aligner}"


ANNOTATOR_NAME = "alignx-annotator"  # registry name of the direction annotator (alias `candidate`)


# --- stages: DVC stage base name -> "module:flow" (a foreach stage `train@ica` passes its key as `variant`) ---
FLOWS = {
    "space": "flows.space:space_flow",
    "personas": "flows.personas:personas_flow",
    "pairs": "flows.pairs:pairs_flow",
    "benchmarks": "flows.benchmarks:benchmarks_flow",
    "directions": "flows.directions:directions_flow",
    "base": "flows.base:base_flow",
    "format": "flows.format:format_flow",
    "reference": "flows.reference:reference_flow",
    "eval_inputs": "flows.eval_inputs:eval_inputs_flow",
    "train": "flows.train:train_flow",
    "evaluate": "flows.evaluate:evaluate_flow",
    "generate": "flows.generate:generate_flow",
    "vpl": "flows.vpl:vpl_flow",
}
