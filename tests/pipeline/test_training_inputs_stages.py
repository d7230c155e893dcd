"""Stages base -> format -> reference and eval_inputs in process (real Prefect, MLflow, GX) on hand-written records: the
contract files appear, the stored reference log-probs equal a direct computation, and bad inputs fail the
stage with a clear message while the previous output stays in place."""

from __future__ import annotations

import json

from pathlib import Path

import mlflow
import pandas as pd
import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM, AutoTokenizer

from alignx.inputs.examples import columns
from tests.records import write_pairs

# Where each input file lands: training inputs under data/{format,reference}, eval-only ones under data/eval.
WHERE = {"train": "data", "val": "data", "test": "data/eval/splits", "novel": "data/eval/splits",
         "psoups": "data/eval/benchmarks"}


def set_params(work: Path, **sections) -> None:
    params = yaml.safe_load((work / "params.yaml").read_text())
    for section, values in sections.items():
        params[section].update(values)
    (work / "params.yaml").write_text(yaml.safe_dump(params))


def run(flow) -> object:
    return flow(return_state=True)


def direct_logprob(model, prompt_ids, response_ids) -> float:
    """One unpadded sequence, full logits: the textbook computation."""
    ids = torch.tensor([list(prompt_ids) + list(response_ids)])
    with torch.no_grad():
        logps = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
    return sum(logps[len(prompt_ids) + k - 1, t].item() for k, t in enumerate(response_ids))


def runs_by_stage() -> dict[str, mlflow.entities.Run]:
    runs = mlflow.search_runs(experiment_names=["alignx"], output_format="list")
    return {r.data.tags["alignx.pipeline.stage"]: r for r in runs if r.info.status == "FINISHED"}


@pytest.mark.slow
def test_base_format_reference_end_to_end(workdir):
    from flows.base import base_flow
    from flows.eval_inputs import eval_inputs_flow
    from flows.format import format_flow
    from flows.reference import reference_flow

    write_pairs(workdir, n_train=32, n_eval=6)
    set_params(
        workdir,
        base={"tiny": {"vocab_size": 700, "hidden_size": 32, "intermediate_size": 64, "num_layers": 1, "num_heads": 2,
                       "num_kv_heads": 1, "max_position_embeddings": 1024, "tie_word_embeddings": True},
              "warmup": {"steps": 12, "batch_size": 4, "seq_len": 128, "lr": 3e-3, "max_records": 32},
              "min_copy_probe": 0.0, "min_induction": 0.0},  # a 12-step base reads nothing: no retrieval floors
        format={"max_len": 512},
        reference={"batch_size": 8, "device": "cpu"},
    )
    for flow in (base_flow, format_flow, reference_flow):
        assert run(flow).is_completed(), flow.name
    for group in ("splits", "benchmarks"):
        assert eval_inputs_flow(group, return_state=True).is_completed(), group
    assert sorted(p.name for p in Path("data/format/ica").iterdir()) == ["train.parquet", "val.parquet"]

    model = AutoModelForCausalLM.from_pretrained("models/base").eval()
    tokenizer = AutoTokenizer.from_pretrained("models/base")
    assert (workdir / "models/base/model.safetensors").is_file() and tokenizer.eos_token == "<|eos|>"
    for aligner in ("ica", "pba"):
        for name, where in WHERE.items():
            examples = pd.read_parquet(f"{where}/format/{aligner}/{name}.parquet")
            records = pd.read_parquet(f"data/{'benchmarks' if name == 'psoups' else 'pairs'}/{name}.parquet")
            assert list(examples.columns) == list(columns(aligner))
            # One example per record; PBA's train file adds its counterfactual examples (format.counterfactual).
            own = examples if aligner == "ica" else examples[examples["counterfactual"] == ""]
            assert sorted(own["example_id"]) == sorted(records["record_id"])
            if aligner == "pba":
                extra = examples[examples["counterfactual"] != ""]
                assert extra["record_id"].isin(records["record_id"]).all()
                assert extra.empty or name == "train"  # never val, test, novel or a benchmark
            refs = pd.read_parquet(f"{where}/reference/{aligner}/{name}.parquet")
            assert list(refs.columns) == ["example_id", "ref_chosen", "ref_rejected"]
            assert sorted(refs["example_id"]) == sorted(examples["example_id"])
    # The stored reference equals the direct computation on the same model and input.
    examples = pd.read_parquet("data/eval/splits/format/ica/test.parquet").set_index("example_id")
    refs = pd.read_parquet("data/eval/splits/reference/ica/test.parquet").set_index("example_id")
    for example_id in examples.index[:3]:
        row = examples.loc[example_id]
        assert refs.loc[example_id, "ref_chosen"] == pytest.approx(direct_logprob(model, row.prompt_ids, row.chosen_ids), abs=1e-3)
        assert refs.loc[example_id, "ref_rejected"] == pytest.approx(direct_logprob(model, row.prompt_ids, row.rejected_ids), abs=1e-3)
    psoups = pd.read_parquet("data/eval/benchmarks/format/pba/psoups.parquet")
    assert (psoups["profile"] == "Concise communication style, Likes science").all()
    assert psoups["shown_profile"].isna().all()  # benchmark history has no direction vectors
    test = pd.read_parquet("data/eval/splits/format/ica/test.parquet")
    assert test["shown_profile"].map(lambda v: v is None or len(v) == 90).all()

    runs = runs_by_stage()
    client = mlflow.tracking.MlflowClient()
    assert len(client.get_metric_history(runs["base"].info.run_id, "warmup_loss")) == 12
    assert runs["base"].data.metrics["parameters"] > 0
    # The base's in-context retrieval is measured (a barely trained model copies nothing: chance level)
    base_metrics = runs["base"].data.metrics
    assert 0.0 <= base_metrics["copy_probe"] <= 1.0 and base_metrics["probe_examples"] > 0
    assert base_metrics["induction_score"] < 0.1
    # ... and kept for DVC (`dvc metrics show`): the same figures in metrics/base.json
    kept = json.loads((workdir / "metrics/base.json").read_text())
    assert kept["copy_probe"] == round(base_metrics["copy_probe"], 4) and kept["warmup_steps"] == 12
    plots = [a.path for a in client.list_artifacts(runs["format"].info.run_id, "plots")]
    assert "plots/lengths_ica_train.png" in plots
    eval_plots = [a.path for a in client.list_artifacts(runs["eval_inputs@benchmarks"].info.run_id, "plots")]
    assert "plots/lengths_pba_psoups.png" in eval_plots
    assert "ica.train.truncated" in runs["format"].data.metrics

    # A base that does not read its context fails the gate (floor base.min_copy_probe); the published one stays.
    before = (workdir / "models/base/model.safetensors").read_bytes()
    set_params(workdir, base={"min_copy_probe": 0.999, "min_induction": 0.9})
    state = run(base_flow)
    message = str(state.result(raise_on_failure=False))
    assert state.is_failed() and "gate base_model" in message and "induction_score" in message
    assert (workdir / "models/base/model.safetensors").read_bytes() == before
    set_params(workdir, base={"min_copy_probe": 0.0, "min_induction": 0.0})

    # A bad model path fails the stage with a clear message; the published base model stays.
    set_params(workdir, base={"model": "hf:/no/such/model"})
    state = run(base_flow)
    assert state.is_failed() and "hf:/no/such/model: no such folder" in str(state.result(raise_on_failure=False))
    assert (workdir / "models/base/model.safetensors").read_bytes() == before

    # An example whose post + response alone exceed max_len is rejected by the gate, not truncated.
    set_params(workdir, format={"max_len": 40})
    state = run(format_flow)
    message = str(state.result(raise_on_failure=False))
    assert state.is_failed() and "gate format_ica_train" in message and "expect_column_values_to_be_between" in message
    assert "column 'length'" in message
    assert len(pd.read_parquet("data/format/ica/train.parquet")) == 32  # previous output untouched
