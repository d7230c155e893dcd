"""The MLflow alias `champion`: moved to the aligner version marked `candidate` when it beats the best baseline."""

from __future__ import annotations

import logging

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from alignx.contracts import CANDIDATE, CHAMPION, registered_name

log = logging.getLogger("alignx")


def update_champion(aligner: str, beats_baseline: bool, tags: dict[str, float] | None = None) -> dict:
    """Tag the `candidate` version with its evaluation figures and, if it beats the best baseline, point
    `champion` at it. Returns what happened: {moved, version, reason}; a registry without a candidate is
    reported (the model was not registered by `train`), never an error that would hide the evaluation."""
    client, name = MlflowClient(), registered_name(aligner)
    try:
        version = client.get_model_version_by_alias(name, CANDIDATE).version
    except MlflowException:
        reason = f"no version of registered model {name!r} has alias {CANDIDATE!r}; champion not moved"
        log.warning(reason)
        return {"moved": False, "version": None, "reason": reason}
    for key, value in (tags or {}).items():
        client.set_model_version_tag(name, version, key, f"{value:.4f}")
    if tags:
        describe_evaluation(client, name, version, tags)
    if not beats_baseline:
        reason = f"{name} version {version} does not beat the best baseline on test; champion not moved"
        log.info(reason)
        return {"moved": False, "version": int(version), "reason": reason}
    client.set_registered_model_alias(name, CHAMPION, version)
    log.info("%s: alias %s -> version %s", name, CHAMPION, version)
    return {"moved": True, "version": int(version), "reason": f"{name} version {version} beats the best baseline"}


EVALUATION_HEADING = "\n## Evaluation"


def describe_evaluation(client: MlflowClient, name: str, version: str, figures: dict[str, float]) -> None:
    """Add (or replace) the evaluation figures at the end of the version's description, its model card."""
    card = (client.get_model_version(name, version).description or "").split(EVALUATION_HEADING)[0]
    rows = "\n".join(f"| {k.removeprefix('eval.')} | {v:.4f} |" for k, v in figures.items())
    client.update_model_version(name, version, description=f"{card.rstrip()}\n{EVALUATION_HEADING} (stage "
                                f"evaluate)\n\n| figure | value |\n|---|---|\n{rows}\n")
