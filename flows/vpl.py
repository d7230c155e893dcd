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
        cfg, fmt = st.params, st.section("format")
        clock = time.perf_counter()
        train = vpl_stage.train_records(cfg)
        val = vpl_stage.val_set(fmt)
        sets = vpl_stage.load_eval_sets(list(st.section("evaluate").splits), st.section("benchmarks").files, fmt)
        pairs = vpl_stage.contexts.pair_set(train)
        texts = vpl_stage.all_texts(pairs, val, sets)
        print(f"vpl: {len(pairs)} train pairs, {len(val.pairs)} val pairs, {len(sets)} eval sets, "
              f"{len(set(texts))} distinct texts to embed")
        seconds = {"load": time.perf_counter() - clock}
        table = vpl_stage.embed(texts, cfg)
        seconds["embed"] = time.perf_counter() - clock - sum(seconds.values())
        result = vpl_stage.fit(table, pairs, val, cfg)
        seconds["train"] = result.seconds
        vpl_stage.log_curve(result)
        trained = {"pairs": len(pairs), "users": len({r["user_id"] for r in train}), "best_epoch": result.best_epoch,
                   "epochs": cfg.epochs, "feature_dim": table.dim}
        st.publish(VPL_DIR, lambda tmp: vpl_stage.write_model(tmp, result, {**trained, "val_accuracy": result.val_accuracy}),
                   lambda tmp, _: vpl_stage.gate_model(tmp, table, val, cfg), log_artifact=True)
        tables = {(es.aligner, es.name): vpl_stage.score(result.net, table, es) for es in sets}
        st.publish(VPL_SCORES_DIR, lambda tmp: vpl_stage.write_scores(tmp, tables),
                   lambda tmp, _: vpl_stage.gate_scores(tmp, sets), log_artifact=False)
        doc = vpl_stage.metrics_document(tables, result, trained)
        st.publish(VPL_METRICS, lambda tmp: vpl_stage.write_metrics(tmp, doc), vpl_stage.gate_metrics)
        st.log_json(result.curve, "vpl_curve.json")
        seconds["total"] = time.perf_counter() - clock
        st.report(vpl_stage.figures(doc, result, len(table.index), seconds), title="vpl")
    return str(VPL_METRICS)
