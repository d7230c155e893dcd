"""Stage `space`: the 90-dimension preference space as a versioned artifact (alignx.space_stage)."""

from __future__ import annotations

from prefect import flow

from alignx import space
from alignx.pipeline.stage import stage
from alignx.space_stage import OUT, gate_space, write_space


@flow(name="space", log_prints=True)
def space_flow() -> str:
    """Write, gate and publish `data/space/preference_space.json`."""
    with stage("space") as st:
        p = st.params
        st.publish(OUT, lambda tmp: write_space(tmp, p.positive_threshold, p.negative_threshold), gate_space)
        st.report({"dimensions": space.N_DIMS, "groups": len(space.GROUPS)})
    return str(OUT)
