"""Stage `evaluate@{ica,pba}`: alignment accuracy, baselines, the paper's experiments, plots and a report
(alignx.evaluation.evaluate)."""

from __future__ import annotations

import json

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from alignx.contracts import metrics_file, plots_dir, report_file
from alignx.evaluation import direction_inference, evaluate, plots, reference_variant, report
from alignx.evaluation.experiments import bootstrap, measure
from alignx.pipeline import tracking
from alignx.pipeline.stage import stage


@flow(name="evaluate", log_prints=True)
def evaluate_flow(variant: str) -> str:
    """Evaluate aligner `variant` (ica or pba) against the base-model baselines; publish metrics, plots, report."""
    aligner = variant
    with stage(f"evaluate@{aligner}", reads=("format", "space", "benchmarks")) as st:
        p, max_len = st.params, st.section("format").max_len
        frames = evaluate.load_eval_sets(aligner, p, st.section("benchmarks").files, max_len, st.check)
        ev = evaluate.build_evaluator(aligner, p, st.section("space"), max_len)

        def measurements():  # every scoring measurement: in this process, or across evaluate.num_processes
            res, tables = measure(ev, frames, p)
            if aligner != "pba":
                return res, tables, None
            # PBA with predicted history directions (the annotator of the `directions` stage)
            return res, tables, direction_inference.for_stage(ev, frames, p, st.section("benchmarks").files,
                                                              st.section("format"), st.section("space"), res)

        res, tables, predicted = evaluate.scored(ev, p, measurements)
        if aligner == "pba":  # parity with the paper's script: PBA against the reference on the ICA prompt
            res.reference_variant = reference_variant.measure(frames, tables, p.splits, st.section("benchmarks").files,
                                                              p.beta, bootstrap(p))
        print(f"evaluate@{aligner}: scored {res.speed['pairs']} pairs in {res.speed['seconds']:.1f} s "
              f"({res.speed['pairs_per_second']:.1f} pairs/s)")
        res.champion = evaluate.update_champion(aligner, res)
        # The pipeline's parent MLflow run shows both aligners' headline figures side by side.
        tracking.log_to_pipeline({f"{aligner}/{k}": v for k, v in evaluate.headline(res).items()})
        for name, table in tables.items():
            evaluate.log_frame(table, f"scores/{name}.parquet")
        # Judged generations (stage generate@<aligner>): a `generation` section of the metrics and of the report.
        doc, text = evaluate.with_generation(aligner, report.metrics_document(res), report.markdown(res))
        if predicted is not None:  # PBA with predicted history directions
            doc[direction_inference.SECTION] = predicted
            text += "\n\n" + direction_inference.markdown(predicted)
        st.publish(metrics_file(aligner), lambda tmp: tmp.write_text(json.dumps(doc, indent=2) + "\n"),
                   evaluate.gate_metrics)
        st.publish(plots_dir(aligner), lambda tmp: plots.write_plots(res, tmp), evaluate.gate_plots)
        st.publish(report_file(aligner), lambda tmp: tmp.write_text(text), evaluate.gate_report)
        st.report(evaluate.flat_figures(doc), title=f"evaluate@{aligner}")
        # The whole report too, so the Prefect UI shows the results table beside the flow run.
        create_markdown_artifact(markdown=text, key=f"alignx-evaluate-{aligner}-report", description="evaluation report")
    return str(metrics_file(aligner))
