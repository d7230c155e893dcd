"""A stage's input datasets are its dvc.yaml data dependencies (foreach keys and params references resolved),
each with a digest that follows its bytes."""

from pathlib import Path

from alignx.pipeline.datasets import digest, stage_inputs

DVC_YAML = """
stages:
  train:
    foreach: [ica, pba]
    do:
      cmd: alignx run train@${item}
      deps: ["data/format/${item}", models/base, src/alignx/training, flows/train.py]
  eval_inputs:
    foreach:
      benchmarks: {records: data/benchmarks}
    do:
      cmd: alignx run eval_inputs@${key}
      deps: ["${item.records}", models/base]
  benchmarks:
    cmd: alignx run benchmarks
    deps: ["${benchmarks.root}", flows/benchmarks.py]
"""


def test_data_dependencies_resolved_and_existing_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("dvc.yaml").write_text(DVC_YAML)
    Path("params.yaml").write_text("benchmarks:\n  root: ../shared/benchmarks\n")
    for folder in ("data/format/pba", "models/base", "data/benchmarks", "src/alignx/training", "../shared/benchmarks"):
        Path(folder).mkdir(parents=True, exist_ok=True)
    assert stage_inputs("train@pba") == [Path("data/format/pba"), Path("models/base")]  # no code, no ica
    assert stage_inputs("train@ica") == [Path("models/base")]  # data/format/ica does not exist
    assert stage_inputs("eval_inputs@benchmarks") == [Path("data/benchmarks"), Path("models/base")]
    assert stage_inputs("benchmarks") == [Path("../shared/benchmarks")]
    assert stage_inputs("space") == []


def test_digest_follows_content_and_names(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.parquet").write_bytes(b"1")
    first = digest(tmp_path / "a")
    assert digest(tmp_path / "a") == first
    (tmp_path / "a" / "x.parquet").write_bytes(b"2")
    assert digest(tmp_path / "a") != first
