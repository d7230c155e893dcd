"""Stage `pairs`: AlignX records per split -> data/pairs/{train,val,test,novel}.parquet (alignx.data.build).

`source: synthetic` generates them from the personas in parallel chunks (Prefect task runner from params);
`source: alignx` imports the released dataset's files in `import_dir` instead. Either way every chunk is gated,
then the whole dataset (users in one split, unique ids, coverage, balance, shortcuts).
"""

from __future__ import annotations

import mlflow
from prefect import flow

from alignx.config import ConfigError
from alignx.contracts import PAIRS_DIR
from alignx.data import build, pair_stats
from alignx.pipeline.stage import stage


@flow(name="pairs", log_prints=True)
def pairs_flow() -> str:
    """Generate (or import), gate and publish the AlignX records of every split."""
    with stage("pairs", reads=("personas", "space")) as st:
        p, spc = st.params, st.section("space")
        source, synthetic = p.source, p.source == "synthetic"
        if synthetic:
            novel_dims, thresholds = st.section("personas").novel_indices, (spc.positive_threshold, spc.negative_threshold)
            write = lambda tmp: build.synthesize(tmp, p, novel_dims, thresholds, st.check)  # noqa: E731
        elif source == "alignx":
            write = lambda tmp: build.import_alignx(tmp, p, st.check)  # noqa: E731
        else:
            raise ConfigError(f"params.yaml pairs.source: {source!r} is neither 'synthetic' nor 'alignx'")
        summary = st.publish(PAIRS_DIR, write, lambda tmp, summary: build.dataset_gates(tmp, summary, p, synthetic),
                             log_artifact=False)
        metrics = build.pairs_figures(summary, synthetic)
        hist = summary["stats"]["train"].histogram
        mlflow.log_figure(pair_stats.histogram_figure(hist, "train records: direction per dimension"), "plots/directions.png")
        st.report(metrics, title="pairs (synthetic world)" if synthetic else f"pairs (imported from {st.params.import_dir})")
    return str(PAIRS_DIR)

