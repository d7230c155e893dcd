"""Stage `vpl`: the VPL baseline (variational preference learning) trained on the train split, saved to
`models/vpl/`, and its rewards of every eval set written to `data/eval/vpl/` for `evaluate` (alignx.vpl_stage)."""

from __future__ import annotations

import time

from prefect import flow

from alignx import vpl_stage
from alignx.contracts import VPL_DIR, VPL_METRICS, VPL_SCORES_DIR
from alignx.pipeline.stage import stage


@flow(name="vpl", log_prints=True)
def vpl_flow() -> str:
    """Train, gate and save VPL; score and gate every eval set; publish its metrics."""
    with stage("vpl", reads=("format", "evaluate", "benchmarks")) as st:
        cfg, clock = st.params, time.perf_counter()
        inputs = vpl_stage.load_inputs(cfg, st.section("format"), list(st.section("evaluate").splits),
                                       st.section("benchmarks").files)
        print(inputs.summary())
        table = vpl_stage.embed(inputs.texts(), cfg)
        seconds = {"load_and_embed": time.perf_counter() - clock}
        result = vpl_stage.fit(table, inputs.train, inputs.val, cfg)
        seconds["train"] = result.seconds
        vpl_stage.log_curve(result)
        trained = vpl_stage.trained_facts(inputs, result, table, cfg)
        st.publish(VPL_DIR, lambda tmp: vpl_stage.write_model(tmp, result, trained),
                   lambda tmp, _: vpl_stage.gate_model(tmp, table, inputs.val, cfg))
        tables = {(es.aligner, es.name): vpl_stage.score(result.net, table, es) for es in inputs.sets}
        st.publish(VPL_SCORES_DIR, lambda tmp: vpl_stage.write_scores(tmp, tables),
                   lambda tmp, _: vpl_stage.gate_scores(tmp, inputs.sets), log_artifact=False)
        doc = vpl_stage.metrics_document(tables, result, trained)
        st.publish(VPL_METRICS, lambda tmp: vpl_stage.write_metrics(tmp, doc), vpl_stage.gate_metrics)
        seconds["total"] = time.perf_counter() - clock
        st.report(vpl_stage.figures(doc, result, seconds), title="vpl")
    return str(VPL_METRICS)
