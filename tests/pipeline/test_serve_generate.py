"""The registered aligner answers both tasks (scoring and generation) in process and over `mlflow models serve`
(REST on 127.0.0.1), deterministically given its inputs, with a signature covering both; `alignx generate`
prints a response for one user."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from alignx.config import FormatConfig, SpaceConfig, TrainConfig
from alignx.contracts import registered_name
from alignx.env import free_port
from alignx.generation import serving
from alignx.training import registry
from tests.records import record
from tests.toy import ToySize, write_base

SIZE = ToySize(vocab=128, hidden=32, layers=2, heads=2)
GENERATE = {"task": "generate", "seed": 3, "max_new_tokens": 6}


@pytest.fixture
def registered(tmp_path, mlflow_store) -> str:
    """A real registered `alignx-pba` version: a random policy against a random reference (the toy models)."""
    base = write_base(tmp_path / "base", SIZE, seed=0)
    policy = write_base(tmp_path / "policy", SIZE, seed=1)
    fmt = FormatConfig(seed=0, max_len=512, modes={"ugc": 0.5, "pair": 0.5})
    scoring = registry.scoring_config("pba", TrainConfig(beta=0.1, micro_batch=4), fmt, SpaceConfig())
    with mlflow.start_run():
        version = registry.register(policy, registered_name("pba"), base, scoring)
    return f"models:/{registered_name('pba')}/{version}"


def _records(n: int) -> pd.DataFrame:
    return pd.DataFrame([record(i, split="test") for i in range(n)])


def test_both_tasks_in_process_are_deterministic_and_ignore_record_id(registered):
    model = mlflow.pyfunc.load_model(registered)
    sig = model.metadata.signature
    assert {p.name for p in sig.params.params} >= {"task", "seed", "temperature", "top_k", "top_p", "max_new_tokens"}
    assert [c.name for c in sig.inputs.inputs if c.required] == ["prompt"]
    records = _records(3)
    scores = model.predict(records)
    renamed = model.predict(records.assign(record_id=["x", "y", "z"]))
    assert np.allclose(scores["margin"], renamed["margin"])  # the id no longer draws what is shown
    assert renamed["record_id"].tolist() == ["x", "y", "z"]
    first = model.predict(records.drop(columns=["chosen", "rejected"]), params=GENERATE)
    again = model.predict(records.drop(columns=["chosen", "rejected"]), params=GENERATE)
    assert list(first.columns) == list(serving.GENERATE_COLUMNS)
    assert first["response"].tolist() == again["response"].tolist()
    assert (first["n_tokens"] <= 6).all()
    empty = model.predict(records.iloc[:0], params=GENERATE)
    assert list(empty.columns) == list(serving.GENERATE_COLUMNS) and empty.empty
    with pytest.raises(ValueError, match=r"row 1, field 'chosen'"):
        model.predict(records.assign(chosen=["ok", "", "ok"]))
    with pytest.raises(ValueError, match=r"row 0, field 'prompt': .* more than the cap"):
        model.predict(records.iloc[:1].assign(prompt="word " * 2000), params=GENERATE)


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_mlflow_models_serve_answers_both_tasks_over_http(registered, tmp_path, mlflow_store):
    port = free_port()
    cmd = [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", registered, "--env-manager", "local",
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    log = (tmp_path / "serve.log").open("w")
    # The scoring server runs `uvicorn` from the environment's bin folder.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.time() + 180
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    pytest.fail((tmp_path / "serve.log").read_text()[-3000:])
                time.sleep(0.5)
        rows = json.loads(_records(2).to_json(orient="records"))
        scored = _post(f"http://127.0.0.1:{port}/invocations", {"dataframe_records": rows})["predictions"]
        assert [sorted(r) for r in scored] == [sorted(serving.SCORE_COLUMNS)] * 2
        body = {"dataframe_records": [{k: v for k, v in r.items() if k not in ("chosen", "rejected")} for r in rows],
                "params": GENERATE}
        generated = _post(f"http://127.0.0.1:{port}/invocations", body)["predictions"]
        assert len(generated) == 2 and all(isinstance(r["response"], str) for r in generated)
        in_process = mlflow.pyfunc.load_model(registered).predict(_records(2).drop(columns=["chosen", "rejected"]),
                                                                   params=GENERATE)
        assert [r["response"] for r in generated] == in_process["response"].tolist()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_cli_generate_prints_a_response(registered, tmp_path):
    path = tmp_path / "user.json"
    path.write_text(_records(1).drop(columns=["chosen", "rejected"]).to_json(orient="records")[1:-1])
    out = subprocess.run([sys.executable, "-m", "alignx.ops.cli", "generate", "--aligner", "pba", "--record", str(path),
                          "--model-uri", registered, "--max-new-tokens", "4"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    expected = mlflow.pyfunc.load_model(registered).predict(
        _records(1).drop(columns=["chosen", "rejected"]), params={"task": "generate", "seed": 0, "max_new_tokens": 4})
    assert out.stdout == expected["response"].iloc[0] + "\n"
