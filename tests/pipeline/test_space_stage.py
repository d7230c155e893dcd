"""The stage pattern, on the `space` stage: publish through a gate, one MLflow run, failures keep old outputs."""

import json

import mlflow
import pytest

from alignx import space
from alignx.pipeline.gates import GateError
from alignx.space_stage import OUT, gate_space, write_space
from flows.space import space_flow


def test_space_flow_publishes_a_gated_document_and_one_finished_run(workdir):
    state = space_flow(return_state=True)
    assert state.is_completed()
    doc = json.loads(OUT.read_text())
    assert doc["n_dims"] == 90 and len(doc["dimensions"]) == 90
    assert doc["dimensions"][16]["positive"] == "Concise communication style"
    assert not list(OUT.parent.glob(".*tmp*")), "no temporary output left behind"

    runs = mlflow.search_runs(experiment_names=["alignx"], output_format="list")
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.params == {"space.positive_threshold": "0.6", "space.negative_threshold": "0.4"}
    assert run.data.tags["dvc.stage"] == "space" and run.data.tags["prefect.flow_run_id"]
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert {"preference_space.json", "gates", "summary.md"} <= artifacts


def test_gate_names_each_corruption(tmp_path):
    path = tmp_path / "space.json"
    write_space(path, 0.6, 0.4)
    doc = json.loads(path.read_text())
    doc["dimensions"] = doc["dimensions"][:89]  # a dimension lost
    doc["dimensions"][3]["negative"] = doc["dimensions"][3]["positive"]  # labels collapsed
    doc["dimensions"][5]["positive"] = ""  # an empty label
    path.write_text(json.dumps(doc))
    failures = {(f.expectation, f.column) for r in gate_space(path) for f in r.failures}
    assert ("expect_table_row_count_to_equal", None) in failures
    assert ("expect_column_values_to_be_in_set", "labels_differ") in failures
    assert ("expect_column_value_lengths_to_be_between", "positive") in failures
    assert ("expect_column_pair_values_to_be_equal", "expected,observed") in failures


def test_failed_gate_fails_the_runs_and_keeps_the_previous_output(workdir, monkeypatch):
    assert space_flow(return_state=True).is_completed()
    good = OUT.read_bytes()

    def corrupted(*thresholds: float) -> dict:
        doc = original(*thresholds)
        doc["dimensions"][47]["group"] = "hobbies"
        return doc

    original = space.space_document
    monkeypatch.setattr(space, "space_document", corrupted)
    state = space_flow(return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, GateError)
    assert "expect_column_values_to_be_in_set on column 'group'" in str(error) and "hobbies" in str(error)
    assert OUT.read_bytes() == good, "the previous output survives a failed gate"
    assert not list(OUT.parent.glob(".*tmp*"))

    failed = mlflow.search_runs(experiment_names=["alignx"], filter_string="attributes.status = 'FAILED'",
                                output_format="list")
    assert len(failed) == 1
    gate_json = mlflow.artifacts.load_text(f"runs:/{failed[0].info.run_id}/gates/space_dimensions.json")
    assert json.loads(gate_json)["success"] is False
