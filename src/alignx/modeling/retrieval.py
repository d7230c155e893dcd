"""In-context retrieval of a base model: can it read text back out of its own context? (stage `base`'s figures
and gate; bench/copy_probe.py and bench/base_retrieval.py measure with the same functions.)

ICA's only signal is history text that reappears in the chosen response, so a base that cannot copy from its
context gives ICA nothing to build on. Two measurements:

    copy probe       each ICA example gets its chosen response, word for word, as one more UGC comment at the
                     start of its history; the share of pairs on which the model then prefers the response it was
                     just shown (summed log-probs). A pretrained LM is near 100 %; a context-blind one ~50 %.
    induction score  top-1 accuracy on the second copy of repeated random spans (alignx.modeling.warmup).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from alignx.config import FormatConfig, SpaceConfig
from alignx.inputs.examples import format_records, iter_records
from alignx.modeling.logprobs import score_examples
from alignx.modeling.tokenizer import pad_id


def probed(frame: pd.DataFrame, tokenizer) -> pd.DataFrame:
    """`frame` with each prompt's history starting with the example's own chosen response as a UGC comment."""
    prompts = []
    for prompt, chosen in zip(frame["prompt_ids"], frame["chosen_ids"]):
        text = tokenizer.decode(list(chosen)[:-1])  # without EOS
        block = tokenizer(f"[Comment]\nUser's comment: {text}\n\n", add_special_tokens=False)["input_ids"]
        prompt = list(prompt)
        prompts.append(np.array(prompt[:1] + block + prompt[1:], dtype=np.int32))  # after BOS
    return frame.assign(prompt_ids=prompts)


def probe_examples(path: Path, k: int, tokenizer, fmt: FormatConfig, spc: SpaceConfig) -> pd.DataFrame:
    """ICA examples of the first `k` records of `path` (a pairs split), rendered as `format` renders them."""
    records = []
    for chunk in iter_records(path):
        records += chunk[: k - len(records)]
        if len(records) >= k:
            break
    frame = format_records(records, "ica", tokenizer, fmt, spc)
    return frame[frame["problem"] == ""].reset_index(drop=True)


def copy_probe(model: torch.nn.Module, tokenizer, examples: pd.DataFrame, batch_size: int = 32) -> dict[str, float]:
    """The copy probe on `examples` (formatted ICA rows): the share of pairs on which the model prefers the
    response shown verbatim in its prompt, and the mean log-prob margin."""
    chosen, rejected = score_examples(model, probed(examples, tokenizer), batch_size, pad_id(tokenizer), progress=False)
    return {"copy_probe": float((chosen > rejected).mean()), "copy_probe_margin": float((chosen - rejected).mean())}
