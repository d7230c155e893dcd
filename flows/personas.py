"""Stage `personas`: the synthetic users (direction vectors, split, DEMO text) -> data/personas/users.parquet
(alignx.world.personas)."""

from __future__ import annotations

from prefect import flow

from alignx.contracts import USERS_FILE
from alignx.pipeline.stage import stage
from alignx.world import personas

OUT = USERS_FILE


@flow(name="personas", log_prints=True)
def personas_flow() -> str:
    """Draw, gate and publish the synthetic users."""
    with stage("personas") as st:
        p = st.params
        st.publish(OUT, lambda tmp: personas.write_users(tmp, p), lambda tmp, _: personas.gate_users(tmp, p),
                   log_artifact=False)
        st.report(personas.personas_figures(OUT))
    return str(OUT)
