"""The stage pattern every pipeline stage reuses.

    with stage("space") as st:                       # one MLflow run; st.params: the typed `space` section
        doc = st.publish(OUT, write, gate)           # write(tmp) -> gate(tmp, doc) -> rename; returns doc
        st.report({"dims": 90})                      # MLflow metrics + Prefect markdown artifact

A stage runs inside its Prefect flow (flows/<stage>.py). A failed gate raises GateError: the previous output
is left untouched, the validation result is saved as an MLflow artifact, the MLflow run ends FAILED, and
the flow run fails, which makes `alignx run` exit non-zero with the gate's summary.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import mlflow

from alignx import threads
from alignx.pipeline import datasets, outputs, tracking
from alignx.config import SECTIONS, as_dict, load_section
from alignx.pipeline.gates import GateError, GateResult

log = logging.getLogger("alignx")

# Steps whose failure can be transient (the sqlite store locked by a concurrent stage, a file system hiccup while
# copying artifacts) run as Prefect tasks retried this many times, this many seconds apart. A gate is never
# retried: a failed gate fails once, with its message (GateError is none of TRANSIENT).
RETRIES, RETRY_DELAY_S = 2, 5.0
TRANSIENT = (OSError, sqlite3.OperationalError, mlflow.exceptions.MlflowException, tracking.TrackingStoreError)

T = TypeVar("T")
# A gate sees the staged output and what the write function returned (figures, per-file facts, a manifest).
Gate = Callable[[Path, T], GateResult | Sequence[GateResult]]


class Stage:
    """A running stage: its name, its own typed params section, the other sections it reads, its MLflow run."""

    def __init__(self, name: str, params: Any, sections: dict[str, Any], run: mlflow.ActiveRun):
        self.name = name
        self.params = params
        self.sections = sections
        self.run = run

    def section(self, name: str) -> Any:
        """The typed config of another section this stage declared in `reads` (and logged)."""
        if name not in self.sections:
            raise KeyError(f"stage {self.name} reads section {name!r} without declaring it in stage(reads=...)")
        return self.sections[name]

    def publish(self, final: Path | str, write: Callable[[Path], T], gate: Gate, log_artifact: bool = True) -> T:
        """Write an output to a temporary path, gate it, and only then move it to `final`; return what `write`
        returned.

        `write(tmp)` creates the file or folder at `tmp`; `gate(tmp, written)` validates it, `written` being
        `write`'s result. Large outputs (data at scale, model weights logged elsewhere) pass `log_artifact=False`.
        """
        final = Path(final)
        tmp = outputs.staging_path(final)
        try:
            written = write(tmp)
            self.check(gate(tmp, written), where=str(final))
            outputs.promote(tmp, final)
        finally:
            outputs.discard(tmp)
        if log_artifact:
            if final.is_dir():
                retried(mlflow.log_artifacts, "log-artifacts")(str(final), artifact_path=final.name)
            else:
                retried(mlflow.log_artifact, "log-artifact")(str(final))
        return written

    def check(self, results: GateResult | Sequence[GateResult], where: str = "") -> None:
        """Log gate results (MLflow artifacts and metrics); raise GateError if any failed."""
        results = [results] if isinstance(results, GateResult) else list(results)
        for result in results:
            mlflow.log_text(result.to_json(), f"gates/{result.name}.json")
            mlflow.log_metric(f"gate.{result.name}.failed", len(result.failures))
            log.info(result.summary())  # also a line of the flow run's Prefect log (PREFECT_LOGGING_EXTRA_LOGGERS)
        markdown = f"## gates of stage {self.name}{f' on {where}' if where else ''}\n\n" + "\n".join(
            r.markdown() for r in results)
        output = Path(where).name.split(".")[0] if where else "-".join(r.name for r in results)
        _prefect_markdown(markdown, key=f"{self.name}-gates-{output}", description=f"gate results of stage {self.name}")
        if not all(r.success for r in results):
            raise GateError(results, where=where)

    def report(self, metrics: dict[str, float], title: str | None = None) -> None:
        """Log scalar metrics to MLflow and show them as the flow run's Prefect markdown artifact."""
        finite = {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}
        mlflow.log_metrics(finite)
        rows = "\n".join(f"| {k} | {_fmt(v)} |" for k, v in metrics.items())
        markdown = f"## {title or self.name}\n\n| metric | value |\n|---|---|\n{rows}\n"
        mlflow.log_text(markdown, "summary.md")
        log.info("stage %s summary: %s", title or self.name, ", ".join(f"{k}={_fmt(v)}" for k, v in metrics.items()))
        _prefect_markdown(markdown, key=self.name)

    def log_json(self, obj: Any, artifact_file: str) -> None:
        """Log a JSON-serialisable object as an MLflow artifact."""
        mlflow.log_text(json.dumps(obj, indent=2, default=str), artifact_file)


@contextmanager
def stage(name: str, reads: Sequence[str] = ()) -> Iterator[Stage]:
    """Open the MLflow run of DVC stage `name` (e.g. `train@ica`). Its own `params.yaml` section (when it has one)
    and every section in `reads` are parsed into their typed configs and all logged as `<section>.<key>` params,
    so each run shows everything it depended on."""
    own = name.split("@")[0]
    names = ([own] if own in SECTIONS else []) + [s for s in reads if s != own]
    sections = {s: load_section(s) for s in names}
    with tracking.stage_run(name, {s: as_dict(c) for s, c in sections.items()}) as run:
        chosen = threads.configure()  # torch threads from the cores this process may use (alignx.threads)
        mlflow.set_tags({f"alignx.runtime.{k}": v for k, v in chosen.items()})  # how it ran, not what it computed
        datasets.log_stage_inputs(name)  # its data dependencies (dvc.yaml) as MLflow input datasets, with digests
        yield Stage(name, sections.get(own), sections, run)


def retried(fn: Callable[..., T], name: str) -> Callable[..., T]:
    """`fn` as a Prefect task of the current flow run, retried on a TRANSIENT error (RETRIES times, RETRY_DELAY_S
    apart; any other error fails at once); `fn` itself outside a flow run."""
    from prefect import task
    from prefect.cache_policies import NO_CACHE
    from prefect.context import FlowRunContext

    if FlowRunContext.get() is None:
        return fn

    def transient(_task: Any, _run: Any, state: Any) -> bool:
        return isinstance(state.result(raise_on_failure=False), TRANSIENT)

    return task(fn, name=name, retries=RETRIES, retry_delay_seconds=RETRY_DELAY_S, retry_condition_fn=transient,
                cache_policy=NO_CACHE, persist_result=False)


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _prefect_markdown(markdown: str, key: str, description: str | None = None) -> None:
    """Attach a markdown artifact to the current Prefect flow run (nothing to do outside one)."""
    from prefect.artifacts import create_markdown_artifact
    from prefect.context import FlowRunContext

    if FlowRunContext.get() is None:
        return
    # Artifact keys allow lowercase letters, digits and dashes only.
    safe = "".join(c if c.isalnum() else "-" for c in key.lower())[:80]
    create_markdown_artifact(markdown=markdown, key=f"alignx-{safe}", description=description or f"summary of stage {key}")
