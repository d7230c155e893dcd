"""The annotator as a registered MLflow pyfunc (`alignx-annotator`): history items in, direction vectors out.

    model = mlflow.pyfunc.load_model("models:/alignx-annotator@candidate")
    model.predict(pd.DataFrame([{"comment": "..."}, {"chosen": "...", "rejected": "..."}]))
    # -> direction (90 values in {0, 0.5, 1}), profile (its verbalized labels)

A row with `chosen` and `rejected` is a PAIR item, a row with `comment` a UGC item. Logged "from code" (this
file; alignx.annotation.registry.register), its weights a safetensors artifact: nothing is pickled.
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and value != value)


class DirectionAnnotator(mlflow.pyfunc.PythonModel):
    """predict(items) -> direction, profile."""

    def load_context(self, context: Any) -> None:
        from alignx.annotation.model import Annotator

        self.annotator = Annotator.load(context.artifacts["annotator"])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        from alignx import space
        from alignx.annotation.features import history_items

        records = []
        for row in model_input.to_dict("records"):
            if _present(row.get("chosen")) or _present(row.get("rejected")):
                item = {"prompt": row.get("prompt", ""), "chosen": row.get("chosen"), "rejected": row.get("rejected")}
                records.append({"Pair-wise Comparative Feedback": [item]})
            else:
                records.append({"User-Generated Content": [{"prompt": row.get("prompt", ""), "comment": row.get("comment")}]})
        directions = self.annotator.predict(history_items(records))
        return pd.DataFrame({"direction": directions, "profile": [space.verbalize(v) for v in directions]})


mlflow.models.set_model(DirectionAnnotator())
