"""Stage `reference`: summed response-token log-probs of chosen and rejected under the base model, for every
training example (`data/reference/{ica,pba}/{train,val}.parquet`: example_id, ref_chosen, ref_rejected;
alignx.modeling.reference).

Computed once here, on exactly the ids the policy will see; training reads them.
"""

from __future__ import annotations

from prefect import flow

from alignx.contracts import BASE_DIR, FORMAT_DIR, REFERENCE_DIR
from alignx.modeling import reference
from alignx.modeling.tokenizer import pad_id
from alignx.pipeline.stage import stage


@flow(name="reference", log_prints=True)
def reference_flow() -> str:
    """Score every training example under the base model; gate and publish `data/reference/`."""
    with stage("reference") as st:
        p = st.params
        model, tokenizer = reference.load_base(BASE_DIR, p.device)
        _, figures = st.publish(
            REFERENCE_DIR,
            lambda tmp: reference.score_all(model, FORMAT_DIR, tmp, p.batch_size, pad_id(tokenizer)),
            lambda tmp, scored: scored[0],
            log_artifact=False,
        )
        st.report(figures)
    return str(REFERENCE_DIR)
