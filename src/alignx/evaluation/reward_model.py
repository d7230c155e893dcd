"""The registered aligner as an MLflow pyfunc that scores pairs: implicit rewards against its reference model.

    model = mlflow.pyfunc.load_model("models:/alignx-pba@champion")
    model.predict(records)   # AlignX records: prompt, chosen, rejected + persona fields (or `profile` for PBA)

Each row is rendered exactly as the pipeline renders an evaluation example (`alignx.inputs.examples.format_record`:
the same template, the model's chat template when it has one, the same persona draw and profile inference),
then scored by the aligner and by the reference model both carried as artifacts:

    reward(y) = beta * (log pi(y | x) - log pi_ref(y | x)),   prefers_chosen = reward(chosen) > reward(rejected)

A PBA version also carries the direction annotator (artifact `annotator`, alignx.annotation): a history item
without a `Preference Direction` gets a predicted one (alignx.annotation.apply.fill_missing), so a record whose
history holds only raw text (post + comment, post + chosen + rejected) is scored too.

Logged "from code" (`mlflow.pyfunc.log_model(python_model=<this file>)`, alignx.training.registry.register): loading
needs the `alignx` package installed, as the pipeline does.
"""

from __future__ import annotations

from typing import Any

import mlflow
import numpy as np
import pandas as pd

# Columns predict() reads; `prompt`, `chosen` and `rejected` are required, the persona fields as in AlignX.
REQUIRED = ("prompt", "chosen", "rejected")


def render_configs(model_config: dict[str, Any]) -> tuple[Any, Any]:
    """The typed `format` and `space` sections (alignx.config) a registered model renders with.

    Models registered since the hand-copied FormatSpec was removed log both sections as they are; older versions
    logged one `format` mapping in FormatSpec's layout (`proportions` for `modes`, the two thresholds inside it),
    which still loads."""
    from alignx.config import FormatConfig, SpaceConfig, parse

    fmt = dict(model_config["format"])
    if "space" in model_config:
        spc = dict(model_config["space"])
    else:
        spc = {k: fmt.pop(k) for k in ("positive_threshold", "negative_threshold") if k in fmt}
        if "proportions" in fmt:
            fmt["modes"] = fmt.pop("proportions")
    return parse(FormatConfig, fmt, "format"), parse(SpaceConfig, spc, "space")


class ImplicitRewards(mlflow.pyfunc.PythonModel):
    """predict(records) -> record_id, reward_chosen, reward_rejected, margin, prefers_chosen."""

    def load_context(self, context: Any) -> None:
        from alignx.annotation.apply import load_annotator
        from alignx.evaluation.scoring import load_policy
        from alignx.modeling.model import load_hf, stored_dtype
        from alignx.modeling.tokenizer import pad_id

        cfg = context.model_config
        self.aligner, self.beta, self.batch_size = cfg["aligner"], float(cfg["beta"]), int(cfg.get("batch_size", 8))
        self.fmt, self.spc = render_configs(cfg)
        dtype = stored_dtype(context.artifacts["reference"])  # as the pipeline scored: the reference's precision
        self.policy, self.tokenizer = load_policy(context.artifacts["policy"], context.artifacts["reference"], dtype)
        self.reference, _ = load_hf(context.artifacts["reference"], dtype)
        self.pad_id = pad_id(self.tokenizer)
        self.annotator = load_annotator(context.artifacts)  # None unless a PBA version carries one

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        from alignx.annotation.apply import fill_missing
        from alignx.inputs.examples import format_record
        from alignx.modeling.logprobs import score_examples
        from alignx.reward import implicit_reward

        missing = [c for c in REQUIRED if c not in model_input.columns]
        if missing:
            raise ValueError(f"alignx scoring: input lacks column(s) {missing} (has {list(model_input.columns)})")
        records = [{"record_id": str(record.get("record_id", i)), "user_id": str(record.get("user_id", i)),
                    **record, "split": "test"}  # rendered as an evaluation example, never as a train one
                   for i, record in enumerate(model_input.to_dict("records"))]
        records = fill_missing(records, self.annotator)  # history items without a direction get a predicted one
        rows = []
        for i, record in enumerate(records):
            row = format_record(record, self.aligner, self.tokenizer, self.fmt, self.spc)
            if row.get("problem"):
                raise ValueError(f"alignx scoring: row {i}: {row['problem']}")
            rows.append(row)
        examples = pd.DataFrame(rows)
        policy = score_examples(self.policy, examples, self.batch_size, self.pad_id, progress=False)
        reference = score_examples(self.reference, examples, self.batch_size, self.pad_id, progress=False)
        chosen, rejected = (implicit_reward(np.asarray(p), np.asarray(r), self.beta) for p, r in zip(policy, reference))
        return pd.DataFrame({"record_id": examples["record_id"], "reward_chosen": chosen, "reward_rejected": rejected,
                             "margin": chosen - rejected, "prefers_chosen": chosen > rejected})


mlflow.models.set_model(ImplicitRewards())
