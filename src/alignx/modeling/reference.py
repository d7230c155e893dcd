"""Stage `reference`: summed response-token log-probs of chosen and rejected under the base model for every
formatted example (`example_id`, `ref_chosen`, `ref_rejected`), with their gate. `eval_inputs` scores its
examples with the same functions (alignx.modeling.eval_inputs).
"""

from __future__ import annotations

import time
from pathlib import Path

import great_expectations.expectations as gxe
import numpy as np
import pandas as pd
import torch

from alignx.contracts import ALIGNERS
from alignx.modeling.logprobs import score_examples
from alignx.modeling.model import device_of, load_hf, stored_dtype
from alignx.pipeline import gates


def score_file(model, src: Path, batch_size: int, pad: int) -> pd.DataFrame:
    """The reference log-probs of one formatted file, keyed by example_id, in the file's row order."""
    examples = pd.read_parquet(src, columns=["example_id", "prompt_ids", "chosen_ids", "rejected_ids"])
    chosen, rejected = score_examples(model, examples, batch_size, pad)
    return pd.DataFrame({"example_id": examples["example_id"], "ref_chosen": chosen, "ref_rejected": rejected})


def gate_reference(name: str, scores: pd.DataFrame, formatted_ids: pd.Series) -> gates.GateResult:
    """Finite values, and exactly one row per formatted example (same ids, no duplicates, none missing)."""
    known = set(formatted_ids)
    frame = scores.assign(
        finite=np.isfinite(scores["ref_chosen"]) & np.isfinite(scores["ref_rejected"]),
        formatted=scores["example_id"].isin(known),
    )
    return gates.check(
        name,
        frame,
        [
            gxe.ExpectTableRowCountToEqual(value=len(formatted_ids)),
            gxe.ExpectColumnValuesToBeUnique(column="example_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="example_id"),
            gates.all_true("formatted"),
            gates.all_true("finite"),
        ],
    )


def score_all(model, formatted: Path, tmp: Path, batch_size: int, pad: int) -> tuple[list[gates.GateResult], dict]:
    """Reference log-probs of every `formatted/<aligner>/<name>.parquet` into `tmp/<aligner>/<name>.parquet`;
    returns their gate results and figures (examples, mean reference margin, examples per second)."""
    results, figures, start = [], {}, time.perf_counter()
    for aligner in ALIGNERS:
        if not (formatted / aligner).is_dir():
            raise FileNotFoundError(f"reference: {formatted / aligner} not found (run the formatting stage first)")
        (tmp / aligner).mkdir(parents=True)
        for src in sorted((formatted / aligner).glob("*.parquet")):
            scores = score_file(model, src, batch_size, pad)
            scores.to_parquet(tmp / aligner / src.name, index=False)
            ids = pd.read_parquet(src, columns=["example_id"])["example_id"]
            results.append(gate_reference(f"reference_{aligner}_{src.stem}", scores, ids))
            figures[f"{aligner}.{src.stem}.examples"] = len(scores)
            figures[f"{aligner}.{src.stem}.ref_margin_mean"] = float((scores["ref_chosen"] - scores["ref_rejected"]).mean())
    examples = sum(v for k, v in figures.items() if k.endswith(".examples"))
    figures["examples_per_second"] = examples / max(time.perf_counter() - start, 1e-9)
    return results, figures


def load_base(base: Path, device: str) -> tuple[torch.nn.Module, object]:
    """The base model (in its stored precision, eval mode, on `device`) and its tokenizer, as every reference
    pass scores with it."""
    torch.manual_seed(0)
    model, tokenizer = load_hf(base, stored_dtype(base))
    return model.to(device_of(device)).eval(), tokenizer
