"""Data-parallel scoring (alignx.modeling.parallel_scoring): `reference` and `eval_inputs` with 2 CPU processes under
the `deepspeed` launcher write byte-identical files to one process; a rank that dies fails the stage naming the
rank and publishes nothing; `reference` scores only the train examples training reads."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.pipeline.test_training_inputs_stages import run, set_params
from tests.records import write_pairs

TINY = {"tiny": {"vocab_size": 700, "hidden_size": 32, "intermediate_size": 64, "num_layers": 1, "num_heads": 2,
                 "num_kv_heads": 1, "max_position_embeddings": 1024, "tie_word_embeddings": True},
        "warmup": {"steps": 4, "batch_size": 4, "seq_len": 128, "lr": 3e-3, "max_records": 32},
        "min_copy_probe": 0.0, "min_induction": 0.0}  # a 4-step base reads nothing: no retrieval floors


def files_of(folder: str) -> dict[str, bytes]:
    root = Path(folder)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


@pytest.mark.slow
def test_two_processes_write_the_same_bytes_as_one(workdir):
    from flows.base import base_flow
    from flows.eval_inputs import eval_inputs_flow
    from flows.format import format_flow
    from flows.reference import reference_flow

    write_pairs(workdir, n_train=64, n_eval=12)
    # ICA's schedule reads 2 steps of 16 (32 of 64 train examples); PBA runs its whole epoch.
    set_params(workdir, base=TINY, format={"max_len": 512}, reference={"batch_size": 5, "device": "cpu"},
               train={"global_batch": 16, "micro_batch": 8, "aligners": {"ica": {"max_steps": 2}}})
    for flow in (base_flow, format_flow):
        assert run(flow).is_completed(), flow.name
    one = {}
    for name, flow, out in (("reference", reference_flow, "data/reference"),
                            ("splits", lambda **kw: eval_inputs_flow("splits", **kw), "data/eval/splits/reference")):
        assert run(flow).is_completed(), name
        one[name] = files_of(out)
    assert len(pd.read_parquet("data/reference/ica/train.parquet")) == 32  # only what ICA's 2 steps read
    # PBA runs its whole epoch: every train row, its counterfactual examples too (format.counterfactual).
    assert len(pd.read_parquet("data/reference/pba/train.parquet")) == len(pd.read_parquet("data/format/pba/train.parquet")) > 64
    assert len(pd.read_parquet("data/reference/ica/val.parquet")) == len(pd.read_parquet("data/format/ica/val.parquet"))

    set_params(workdir, reference={"num_processes": 2})
    for name, flow, out in (("reference", reference_flow, "data/reference"),
                            ("splits", lambda **kw: eval_inputs_flow("splits", **kw), "data/eval/splits/reference")):
        shutil.rmtree(out)
        assert run(flow).is_completed(), name
        two = files_of(out)
        assert sorted(two) == sorted(one[name]) and len(two) >= 4
        for file, data in two.items():
            assert data == one[name][file], f"{name}: {file} differs between 1 and 2 processes"


@pytest.mark.slow
def test_a_killed_rank_fails_the_stage_naming_it(workdir):
    from flows.base import base_flow
    from flows.format import format_flow
    from flows.reference import reference_flow

    write_pairs(workdir, n_train=64, n_eval=12)
    set_params(workdir, base=TINY, format={"max_len": 512}, reference={"batch_size": 4, "device": "cpu"})
    for flow in (base_flow, format_flow, reference_flow):
        assert run(flow).is_completed(), flow.name
    before = files_of("data/reference")

    set_params(workdir, reference={"num_processes": 2})
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("state", run(reference_flow)))
    thread.start()
    killed, deadline = None, time.monotonic() + 300
    while killed is None and thread.is_alive() and time.monotonic() < deadline:
        for started in Path("data").glob(".reference.tmp-*/.parts/rank1.started"):
            pid = int(started.read_text().split()[0])
            os.kill(pid, signal.SIGKILL)  # rank 1 dies (as under the OOM killer) while it loads or scores
            killed = pid
        time.sleep(0.02)
    thread.join(timeout=300)
    assert killed is not None, "rank 1 never started"
    state = result["state"]
    message = str(state.result(raise_on_failure=False))
    assert state.is_failed() and "rank 1 died before finishing" in message and "nothing was published" in message
    assert files_of("data/reference") == before  # the previous output stays, byte for byte
    assert not list(Path("data").glob(".reference.tmp-*"))  # no staging left behind


def test_rows_read_follow_the_trainer_schedule():
    from alignx.training.data import Batches, rows_read
    from tests.toy import make_examples

    frame = make_examples(40, 64, (3, 6), (2, 5))
    rows = rows_read(frame, global_batch=8, seed=3, group_steps=0, epochs=1, max_steps=2)
    batches = Batches(40, 8, 3)
    assert np.array_equal(rows, np.sort(np.concatenate([batches.step_indices(0), batches.step_indices(1)])))
    assert len(rows_read(frame, 8, 3, 0, epochs=2, max_steps=0)) == 40
