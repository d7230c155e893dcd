"""Stage `reference`: summed response-token log-probs of chosen and rejected under the base model, for every
training example (`data/reference/{ica,pba}/{train,val}.parquet`: example_id, ref_chosen, ref_rejected).

Computed once here, on exactly the ids the policy will see; training reads them.
"""

from __future__ import annotations

import torch
from prefect import flow

from alignx.contracts import BASE_DIR, FORMAT_DIR, REFERENCE_DIR
from alignx.inputs import files
from alignx.modeling.model import device_of, load_hf, stored_dtype
from alignx.modeling.tokenizer import pad_id
from alignx.pipeline.stage import stage


@flow(name="reference", log_prints=True)
def reference_flow() -> str:
    """Score every training example under the base model; gate and publish `data/reference/`."""
    with stage("reference") as st:
        p = st.params
        torch.manual_seed(0)
        model, tokenizer = load_hf(BASE_DIR, stored_dtype(BASE_DIR))
        model = model.to(device_of(p.device)).eval()
        results, figures = [], {}

        def write(tmp):
            found, figs = files.score_all(model, FORMAT_DIR, tmp, p.batch_size, pad_id(tokenizer))
            results.extend(found)
            figures.update(figs)

        st.publish(REFERENCE_DIR, write, lambda tmp: results, log_artifact=False)
        st.report(figures)
    return str(REFERENCE_DIR)
