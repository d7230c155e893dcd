"""Stage `reference`: summed response-token log-probs of chosen and rejected under the base model, for the train
examples training reads and every val example (`data/reference/{ica,pba}/{train,val}.parquet`: example_id,
ref_chosen, ref_rejected; alignx.modeling.reference), in one process or across `reference.num_processes`.

Computed once here, on exactly the ids the policy will see (the rows of every step of each aligner's `train`
schedule: alignx.training.data.rows_read); training reads them and fails on a step that has none.
"""

from __future__ import annotations

import pandas as pd
from prefect import flow

from alignx.contracts import ALIGNERS, BASE_DIR, FORMAT_DIR, REFERENCE_DIR
from alignx.modeling import reference
from alignx.pipeline.stage import stage
from alignx.training.data import rows_read


@flow(name="reference", log_prints=True)
def reference_flow() -> str:
    """Score the examples training reads under the base model; gate and publish `data/reference/`."""
    with stage("reference", reads=("train",)) as st:
        wanted = {}
        for aligner in ALIGNERS:
            cfg = st.section("train").for_aligner(aligner)
            columns = ["example_id", "prompt_ids", "chosen_ids", "rejected_ids"]
            frame = pd.read_parquet(FORMAT_DIR / aligner / "train.parquet", columns=columns)
            rows = rows_read(frame, cfg.global_batch, cfg.seed, cfg.length_group_steps, cfg.epochs, cfg.max_steps,
                             cfg.consistency.on)
            wanted[f"{aligner}.train"] = rows.tolist()
            print(f"reference: {aligner} trains on {len(rows)} of {len(frame)} train examples; scoring those")
        _, figures = st.publish(
            REFERENCE_DIR,
            lambda tmp: reference.score_all(reference.scoring_job(BASE_DIR, st.params), FORMAT_DIR, tmp, wanted),
            lambda tmp, scored: scored[0],
            log_artifact=False,
        )
        st.report(figures)
    return str(REFERENCE_DIR)
