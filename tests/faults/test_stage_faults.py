"""Fault matrix, stages (issue 28): a stage given a bad input fails naming the file or param, and every output it
had published before stays byte-identical."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from flows.benchmarks import benchmarks_flow
from tests.data.test_importers import bench_raw, write
from tests.pipeline.test_data_stages import set_params

pytestmark = pytest.mark.slow


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("case", ["empty_file", "outside_root", "not_utf8", "unknown_param"])
def test_a_bad_benchmark_input_fails_naming_it_and_keeps_the_published_output(workdir, tmp_path, case):
    root = tmp_path / "shared"
    write(root / "b.json", [bench_raw(i) for i in range(3)])
    set_params("benchmarks", root=str(root), files={"b": "b.json"})
    assert benchmarks_flow(return_state=True).is_completed()
    before = digest(Path("data/benchmarks"))

    if case == "empty_file":
        write(root / "b.json", [])
        expected = f"{root / 'b.json'}: benchmark 'b' has no records"
    elif case == "outside_root":
        outside = write(tmp_path / "elsewhere.json", [bench_raw(0)])
        set_params("benchmarks", files={"b": str(outside)})
        expected = "benchmarks.files.b"
    elif case == "not_utf8":
        (root / "b.json").write_bytes(b'[{"prompt": "\xff\xfe"}]')
        expected = f"{root / 'b.json'}: not UTF-8 text"
    else:
        set_params("benchmarks", bogus=-1)
        expected = "params.yaml benchmarks.bogus: unknown key"
    state = benchmarks_flow(return_state=True)
    assert state.is_failed()
    assert expected in str(state.result(raise_on_failure=False))
    assert digest(Path("data/benchmarks")) == before
    assert not list(Path("data").glob(".benchmarks.tmp-*"))  # no staging debris left behind
