"""Great Expectations gates: every data hand-off is validated before it is published.

A gate is a named list of GX expectations run against a pandas frame. Checks that GX has no built-in
expectation for on pandas (e.g. "chosen != rejected", "vector has 90 values in {0, 0.5, 1}") are written as
a computed boolean column checked with `ExpectColumnValuesToBeInSet([True])`, so they still appear in the
validation result with the offending row indices.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Sequence

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd
from great_expectations.data_context.types.base import ProgressBarsConfig

_ids = itertools.count()
EXAMPLES_SHOWN = 5


@lru_cache(maxsize=1)
def _context():
    # One ephemeral context per process: nothing is written to disk by GX itself, the stage logs the
    # validation result as an MLflow artifact instead.
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # stage logs carry our own progress
    return context, context.data_sources.add_pandas("alignx")


@dataclass
class Failure:
    """One expectation that did not hold."""

    expectation: str
    column: str | None
    unexpected_count: int | None
    examples: list[Any]
    rows: list[Any]

    def describe(self) -> str:
        where = f" on column {self.column!r}" if self.column else ""
        count = f": {self.unexpected_count} unexpected" if self.unexpected_count is not None else ""
        rows = f", rows {self.rows}" if self.rows else ""
        return f"{self.expectation}{where}{count}{rows}, e.g. {self.examples}"


@dataclass
class GateResult:
    """The outcome of one gate on one frame."""

    name: str
    success: bool
    evaluated: int
    failures: list[Failure] = field(default_factory=list)
    raw: dict = field(default_factory=dict, repr=False)
    hint: str = ""  # shown under a failure: what failed in the data's own terms and how to fix or switch it off

    def summary(self) -> str:
        if self.success:
            return f"gate {self.name}: passed {self.evaluated} expectations"
        lines = [f"gate {self.name}: {len(self.failures)} of {self.evaluated} expectations failed"]
        lines += [f"  - {f.describe()}" for f in self.failures]
        lines += [f"  {self.hint}"] if self.hint else []
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps(self.raw, indent=2, default=str)

    def markdown(self) -> str:
        """One table row per expectation: what it checks (type and column), passed or failed, the unexpected
        count and, for a failure, examples (the stage's Prefect artifact, alignx.pipeline.stage.Stage.check)."""
        verdict = "passed" if self.success else f"FAILED ({len(self.failures)} of {self.evaluated})"
        rows = []
        for r in self.raw.get("results", []):
            config, details = r.get("expectation_config", {}), r.get("result") or {}
            kwargs = config.get("kwargs", {})
            column = kwargs.get("column") or ",".join(kwargs.get("column_list")
                                                      or [kwargs[k] for k in ("column_A", "column_B") if k in kwargs])
            count = details.get("unexpected_count", details.get("observed_value", ""))
            example = "" if r.get("success") else _failure(r).describe().split(", e.g. ", 1)[-1]
            rows.append(f"| {config.get('type', '?')} | {column} | {'pass' if r.get('success') else 'FAIL'} | "
                        f"{count} | {example} |".replace("\n", " "))
        head = "| expectation | column | result | unexpected / observed | examples |\n|---|---|---|---|---|"
        return f"### gate `{self.name}`: {verdict}, {self.evaluated} expectations\n\n{head}\n" + "\n".join(rows) + "\n"


class GateError(RuntimeError):
    """A gate failed; the message is the readable summary, `results` the full validation results."""

    def __init__(self, results: Sequence[GateResult], where: str = ""):
        self.results = list(results)
        head = f"{where}: " if where else ""
        super().__init__(head + "\n".join(r.summary() for r in self.results if not r.success))


def check(name: str, frame: pd.DataFrame, expectations: Sequence[gxe.Expectation]) -> GateResult:
    """Validate `frame` against `expectations` as the GX suite `name`."""
    context, source = _context()
    uid = f"{name}-{next(_ids)}"
    suite = context.suites.add(gx.ExpectationSuite(name=uid))
    for expectation in expectations:
        suite.add_expectation(expectation)
    batch = source.add_dataframe_asset(uid).add_batch_definition_whole_dataframe(uid)
    definition = context.validation_definitions.add(gx.ValidationDefinition(name=uid, data=batch, suite=suite))
    result = definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
    raw = result.to_json_dict()
    failures = [_failure(r) for r in raw["results"] if not r["success"]]
    return GateResult(name, bool(raw["success"]), len(raw["results"]), failures, raw)


def _failure(result: dict) -> Failure:
    config = result["expectation_config"]
    details = result.get("result") or {}
    kwargs = config.get("kwargs", {})
    columns = kwargs.get("column_list") or [kwargs[k] for k in ("column_A", "column_B") if k in kwargs]
    examples = details.get("partial_unexpected_list") or []
    if not examples and "observed_value" in details:
        examples = [details["observed_value"]]
    if result.get("exception_info", {}).get("raised_exception"):
        examples = [result["exception_info"].get("exception_message")]
    return Failure(
        expectation=config["type"],
        column=kwargs.get("column") or (",".join(columns) if columns else None),
        unexpected_count=details.get("unexpected_count"),
        examples=examples[:EXAMPLES_SHOWN],
        rows=(details.get("partial_unexpected_index_list") or [])[:EXAMPLES_SHOWN],
    )


def all_true(column: str) -> gxe.Expectation:
    """The expectation for a computed boolean check column: every row True."""
    return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=[True])
