"""Stage `benchmarks`: the paper's benchmark JSON files -> data/benchmarks/<name>.parquet + manifest.json
(alignx.data.benchmarks).

The root folder is the stage's DVC dependency, so editing a benchmark file re-runs this stage and what scores it
(eval_inputs@benchmarks, evaluate), never training.
"""

from __future__ import annotations

import mlflow
from prefect import flow

from alignx.data import benchmarks
from alignx.pipeline.stage import stage


@flow(name="benchmarks", log_prints=True)
def benchmarks_flow() -> str:
    """Import, gate and publish the benchmarks listed in params."""
    with stage("benchmarks") as st:
        p = st.params
        manifest = st.publish(
            benchmarks.OUT,
            lambda tmp: benchmarks.write_benchmarks(tmp, p.files, p.root, p.on_bad_record),
            benchmarks.gate_benchmarks,
            log_artifact=False,
        )
        mlflow.log_artifact(str(benchmarks.OUT / benchmarks.MANIFEST))
        st.report(benchmarks.benchmarks_figures(manifest))
    return str(benchmarks.OUT)
