"""Stage `reference`: summed response-token log-probs of chosen and rejected under the base model, for every
formatted example (`data/reference/{ica,pba}/<name>.parquet`: example_id, ref_chosen, ref_rejected).

Computed once here, on exactly the ids the policy will see; training and evaluation read them.
"""

from __future__ import annotations

import time
from pathlib import Path

import great_expectations.expectations as gxe
import numpy as np
import pandas as pd
import torch
from prefect import flow
from transformers import AutoModelForCausalLM, AutoTokenizer

from alignx import gates
from alignx.examples import ALIGNERS
from alignx.logprobs import score_examples
from alignx.model import device_of
from alignx.stage import stage
from alignx.tokenizer import pad_id

BASE = Path("models/base")
FORMAT = Path("data/format")
OUT = Path("data/reference")


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


@flow(name="reference", log_prints=True)
def reference_flow() -> str:
    """Score every formatted example under the base model; gate and publish `data/reference/`."""
    with stage("reference") as st:
        p = st.params
        torch.manual_seed(0)
        device = device_of(str(p["device"]))
        model = AutoModelForCausalLM.from_pretrained(BASE, trust_remote_code=False).to(device).eval()
        pad = pad_id(AutoTokenizer.from_pretrained(BASE, trust_remote_code=False))
        results: dict[str, gates.GateResult] = {}
        figures: dict[str, float] = {}
        start = time.perf_counter()

        def write(tmp: Path) -> None:
            for aligner in ALIGNERS:
                (tmp / aligner).mkdir(parents=True)
                for src in sorted((FORMAT / aligner).glob("*.parquet")):
                    scores = score_file(model, src, int(p["batch_size"]), pad)
                    scores.to_parquet(tmp / aligner / src.name, index=False)
                    ids = pd.read_parquet(src, columns=["example_id"])["example_id"]
                    results[f"{aligner}/{src.stem}"] = gate_reference(f"reference_{aligner}_{src.stem}", scores, ids)
                    figures[f"{aligner}.{src.stem}.examples"] = len(scores)
                    figures[f"{aligner}.{src.stem}.ref_margin_mean"] = float(
                        (scores["ref_chosen"] - scores["ref_rejected"]).mean()
                    )
            if not results:
                raise FileNotFoundError(f"reference: no formatted files under {FORMAT}/{{ica,pba}} (run `format`)")

        st.publish(OUT, write, lambda tmp: list(results.values()), log_artifact=False)
        figures["examples_per_second"] = sum(v for k, v in figures.items() if k.endswith(".examples")) / (
            time.perf_counter() - start
        )
        st.report(figures)
    return str(OUT)
