"""The `directions` stage end to end (Prefect flow, MLflow run and registry, GX gate), and the registered PBA
model scoring a record whose history holds raw text only (issue 25)."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from alignx.contracts import DIRECTION, PAIR, UGC
from tests.records import record, write_pairs
from tests.toy import ToySize, write_inputs

SIZE = ToySize(vocab=128, hidden=32, layers=2, heads=2)


def _set(work: Path, **sections) -> None:
    params = yaml.safe_load((work / "params.yaml").read_text())
    for section, values in sections.items():
        params[section].update(values)
    (work / "params.yaml").write_text(yaml.safe_dump(params))


def _unlabelled(i: int) -> dict:
    """A test record whose history items carry no direction and which has no profile: raw text only."""
    rec = record(i, split="test")
    for field in (UGC, PAIR):
        rec[field] = [{**item, DIRECTION: None} for item in rec[field]]
    return rec


@pytest.mark.slow
def test_directions_stage_registers_the_annotator_and_pba_scores_unlabelled_records(workdir, tmp_path):
    from flows.directions import directions_flow
    from flows.train import train_flow

    # Toy records: their labels are random (no text signal), so the quality floor is off for this run.
    write_pairs(workdir, n_train=48, n_eval=8)
    _set(workdir, directions={"epochs": 2, "min_val_macro_f1": 0.0},
         train={"global_batch": 8, "micro_batch": 4, "lr": 2e-3, "checkpoint_every": 100, "max_steps": 2})
    state = directions_flow(return_state=True)
    assert state.is_completed(), state.result(raise_on_failure=False)
    assert sorted(p.name for p in (workdir / "models/annotator").iterdir()) == ["annotator.json", "model.safetensors"]
    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias("alignx-annotator", "candidate")
    run = client.get_run(version.run_id)
    assert run.data.tags["alignx.pipeline.stage"] == "directions" and run.data.params["directions.use"] == "labelled"
    assert run.data.metrics["train_items"] == 48 * 8  # every train record's 4 UGC + 4 PAIR items, none from val
    served = mlflow.pyfunc.load_model("models:/alignx-annotator@candidate")
    out = served.predict(pd.DataFrame([{"comment": "I love gardening!"}, {"chosen": "brief", "rejected": "verbose"}]))
    assert list(out.columns) == ["direction", "profile"] and all(len(v) == 90 for v in out["direction"])
    # As a registry user expects: a signature with named inputs, an input example, a description and a model card.
    info = mlflow.models.get_model_info("models:/alignx-annotator@candidate")
    assert info.signature is not None
    assert info.signature.inputs.input_names() == ["prompt", "comment", "chosen", "rejected"]
    assert info.saved_input_example_info is not None
    assert "direction annotator" in client.get_registered_model("alignx-annotator").description
    assert "| train_items | 384 |" in client.get_model_version("alignx-annotator", version.version).description
    assert "model_card.md" in [a.path for a in client.list_artifacts(run.info.run_id)]

    # train@pba on toy inputs registers a PBA model that carries the annotator.
    toy = write_inputs(tmp_path / "toy", SIZE, n_train=16, n_val=8, prompt_len=(8, 20), response_len=(4, 12))
    for kind, split in (("format", "train"), ("format", "val"), ("reference", "train"), ("reference", "val")):
        dest = workdir / "data" / kind / "pba" / f"{split}.parquet"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(Path(toy[f"{split}_{'examples' if kind == 'format' else 'reference'}"]).read_bytes())
    os.symlink(toy["base"], workdir / "models" / "base")
    state = train_flow("pba", return_state=True)
    assert state.is_completed(), state.result(raise_on_failure=False)
    scorer = mlflow.pyfunc.load_model("models:/alignx-pba@candidate")
    raw = pd.DataFrame([_unlabelled(i) for i in range(3)])
    scores = scorer.predict(raw)
    assert scores["record_id"].tolist() == raw["record_id"].tolist()
    assert np.isfinite(scores[["reward_chosen", "reward_rejected", "margin"]].to_numpy()).all()
    # Bad input: an empty comment names the record, field and item; no history at all names the record.
    empty = raw.copy()
    empty.at[1, UGC] = [{**raw.at[1, UGC][0], "comment": "  "}]
    with pytest.raises(ValueError, match=r"record 1 \('test-r1'\), 'User-Generated Content' item 0: field 'comment' is empty"):
        scorer.predict(empty)
    bare = raw.head(1).assign(**{UGC: [[]], PAIR: [[]]})
    with pytest.raises(ValueError, match=r"row 0: no persona to show: no 'profile' and no history items"):
        scorer.predict(bare)
