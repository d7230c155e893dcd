"""One Prefect history: a plain `dvc repro` records its flow runs, gate results and stage summaries in the
repository's Prefect database (`<repo>/.prefect`, the one `make serve` shows), prints no link to a server that is
gone, and a failed gate fails once, with its message.

Narrowed: a chain of two cheap stages (space -> personas) stands for `make pipeline`, which takes too long for
the suite; every stage goes through the same `alignx run` path.
"""

import sqlite3

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow


def flow_runs(db) -> list[tuple[str, str]]:
    """(flow name, final state) of every flow run in Prefect database `db`, oldest first."""
    with sqlite3.connect(db) as con:
        return con.execute("SELECT flow.name, flow_run.state_type FROM flow_run JOIN flow ON flow.id = flow_run.flow_id "
                           "ORDER BY flow_run.start_time").fetchall()


def log_lines(db) -> list[str]:
    with sqlite3.connect(db) as con:
        return [m for (m,) in con.execute("SELECT message FROM log ORDER BY timestamp")]


def artifacts(db) -> dict[str, str]:
    with sqlite3.connect(db) as con:
        return dict(con.execute("SELECT key, data FROM artifact WHERE key IS NOT NULL"))


def test_dvc_repro_records_its_flow_runs_gates_and_summaries_in_the_repository_prefect_database(repo_copy):
    result = run_cli(repo_copy, "dvc", "repro", "personas")
    assert result.returncode == 0, result.stdout + result.stderr
    db = repo_copy / ".prefect" / "prefect.db"
    assert db.exists(), result.stdout
    assert flow_runs(db) == [("space", "COMPLETED"), ("personas", "COMPLETED")]
    # The gates' results and the stage summaries, as Prefect logs and markdown artifacts of the flow runs.
    logs = log_lines(db)
    assert any(line.startswith("gate space_thresholds: passed") for line in logs), logs
    assert any(line.startswith("stage space summary:") for line in logs), logs
    found = artifacts(db)
    gates = found["alignx-space-gates-preference-space"]  # which expectations ran on which column, pass / fail
    assert "gate `space_thresholds`: passed" in gates and "| positive | pass |" in gates, gates
    assert "alignx-personas" in found
    # No "View at" link: the pipeline's own server has gone with `dvc`; the output says where to look instead.
    assert "View at" not in result.stdout + result.stderr
    assert "browse it with `make serve`" in result.stdout

    # A gate that fails runs once (never retried) and leaves its result in the same history.
    params = repo_copy / "params.yaml"
    params.write_text(params.read_text().replace("positive_threshold: 0.6", "positive_threshold: 0.3"))
    failed = run_cli(repo_copy, "dvc", "repro", "space")
    assert failed.returncode != 0
    assert flow_runs(db)[-1] == ("space", "FAILED")
    failures = [line for line in log_lines(db) if line.startswith("gate space_thresholds: 1 of")]
    assert len(failures) == 1, failures
    assert "gate `space_thresholds`: FAILED" in artifacts(db)["alignx-space-gates-preference-space"]
