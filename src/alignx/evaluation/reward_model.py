"""The registered aligner as an MLflow pyfunc: scores pairs (implicit rewards against its reference model) and
writes personalized responses.

    model = mlflow.pyfunc.load_model("models:/alignx-pba@champion")
    model.predict(records)   # AlignX records: prompt, chosen, rejected + persona fields (or `profile` for PBA)
    model.predict(records, params={"task": "generate", "seed": 0, "temperature": 0.9})   # -> `response` column

Each row is rendered with the pipeline's template (`alignx.inputs.prompts`; the model's chat template when it has
one) from its content alone, never its `record_id`: the whole persona given, cut oldest item first to fit
`max_len` (PBA: the row's `profile` when given, else the profile inferred from every history item);
`alignx.generation.serving` says exactly how, and how a row's size is bounded before tokenizing (a bad row
fails naming its index and field; a 0-row frame returns the task's columns, no rows). Scoring:

    reward(y) = beta * (log pi(y | x) - log pi_ref(y | x)),   prefers_chosen = reward(chosen) > reward(rejected)

Generation samples from the aligner (`alignx.generation.decoding`: KV cache, left padding, the prompt cut from the
left) with the params' settings; `seed` makes it reproducible for the same frame and params.

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


def scoring_config(context: Any) -> dict[str, Any]:
    """What a registered version scores with: its `scoring` artifact (a JSON file, alignx.training.registry), or
    the model_config of versions registered before it (MLflow logged that config again as `format/...` params)."""
    import json
    from pathlib import Path

    if "scoring" in context.artifacts:
        return json.loads(Path(context.artifacts["scoring"]).read_text())
    return dict(context.model_config)


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
    """predict(records) -> record_id, reward_chosen, reward_rejected, margin, prefers_chosen; with params
    {"task": "generate", ...}: record_id, response, ended, n_tokens."""

    def load_context(self, context: Any) -> None:
        from alignx.annotation.apply import load_annotator
        from alignx.modeling.model import load_policy
        from alignx.modeling.model import load_hf, stored_dtype
        from alignx.modeling.tokenizer import pad_id

        cfg = scoring_config(context)
        self.aligner, self.beta, self.batch_size = cfg["aligner"], float(cfg["beta"]), int(cfg.get("batch_size", 8))
        self.fmt, self.spc = render_configs(cfg)
        self.thresholds = (self.spc.positive_threshold, self.spc.negative_threshold)
        dtype = stored_dtype(context.artifacts["reference"])  # as the pipeline scored: the reference's precision
        self.policy, self.tokenizer = load_policy(context.artifacts["policy"], context.artifacts["reference"], dtype)
        self.reference, _ = load_hf(context.artifacts["reference"], dtype)
        self.pad_id = pad_id(self.tokenizer)
        self.annotator = load_annotator(context.artifacts)  # None unless a PBA version carries one

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        from alignx.annotation.apply import fill_missing
        from alignx.generation import serving

        params = {**serving.DEFAULT_PARAMS, **(params or {})}
        task = str(params["task"])
        rows = serving.check_rows(model_input, task, self.fmt.max_len)
        rows = fill_missing(rows, self.annotator)  # history items without a direction get a predicted one
        if not rows:
            return serving.empty_result(task)
        ids = serving.record_ids(model_input)
        if task == "generate":
            return self._generate(rows, ids, params)
        from alignx.modeling.logprobs import score_examples
        from alignx.reward import implicit_reward

        examples = serving.score_inputs(rows, self.aligner, self.tokenizer, self.fmt.max_len, self.thresholds)
        policy = score_examples(self.policy, examples, self.batch_size, self.pad_id, progress=False)
        reference = score_examples(self.reference, examples, self.batch_size, self.pad_id, progress=False)
        chosen, rejected = (implicit_reward(np.asarray(p), np.asarray(r), self.beta) for p, r in zip(policy, reference))
        return pd.DataFrame({"record_id": ids, "reward_chosen": chosen, "reward_rejected": rejected,
                             "margin": chosen - rejected, "prefers_chosen": chosen > rejected})

    def _generate(self, rows: list[dict[str, Any]], ids: list[str], params: dict[str, Any]) -> pd.DataFrame:
        from alignx.generation import serving
        from alignx.generation.decoding import generate

        sampling = serving.sampling(params)
        prompts = [serving.render(row, self.aligner, self.tokenizer, self.fmt.max_len, self.thresholds, i,
                                  response_budget=sampling.max_new_tokens).prompt_ids for i, row in enumerate(rows)]
        outs, _ = generate(self.policy, self.tokenizer, prompts, sampling, int(params["seed"]),
                           self.fmt.max_len - sampling.max_new_tokens, self.batch_size, progress=False)
        return pd.DataFrame({"record_id": ids, "response": [g.text for g in outs], "ended": [g.ended for g in outs],
                             "n_tokens": [len(g.response_ids) for g in outs]})


mlflow.models.set_model(ImplicitRewards())
