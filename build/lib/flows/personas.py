"""Stage `personas`: the synthetic users (direction vectors, split, DEMO text) -> data/personas/users.parquet."""

from __future__ import annotations

from pathlib import Path

import great_expectations.expectations as gxe
import numpy as np
import pyarrow.parquet as pq
from prefect import flow

from alignx import space
from alignx.contracts import SPLITS, USERS_FILE
from alignx.pipeline import gates
from alignx.data import record_gates
from alignx.pipeline.stage import stage
from alignx.world import chunks, users

OUT = USERS_FILE


def gate_users(path: Path, spec: users.UserSpec) -> gates.GateResult:
    """Directions valid, sparsity within bounds, ids unique, novel dimensions neutral for non-novel users."""
    table = pq.read_table(path)
    directions = table.column("direction").combine_chunks()
    flat = directions.flatten().to_numpy(zero_copy_only=False)
    frame = table.select(["user_id", "split", "demo", "n_active"]).to_pandas()
    frame["direction_ok"] = record_gates.vectors_ok(directions, allow_null=False)
    novel_on = np.zeros(len(frame), dtype=bool)
    if len(frame) and spec.novel_dims and frame["direction_ok"].all():
        novel_on = (flat.reshape(-1, space.N_DIMS)[:, list(spec.novel_dims)] != 0.5).any(axis=1)
    frame["novel_dims_only_for_novel_users"] = ~novel_on | (frame["split"] == "novel")
    lo, hi = spec.active_dims
    return gates.check(
        "personas_users",
        frame,
        [
            gxe.ExpectColumnValuesToBeUnique(column="user_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="user_id"),
            gxe.ExpectColumnValuesToBeInSet(column="split", value_set=list(SPLITS)),
            gxe.ExpectColumnValuesToBeBetween(column="n_active", min_value=lo, max_value=hi),
            gxe.ExpectColumnValueLengthsToBeBetween(column="demo", min_value=1),
            gates.all_true("direction_ok"),
            gates.all_true("novel_dims_only_for_novel_users"),
        ],
    )


@flow(name="personas", log_prints=True)
def personas_flow() -> str:
    """Draw, gate and publish the synthetic users."""
    with stage("personas") as st:
        p = st.params
        spec = users.user_spec(p)
        st.publish(
            OUT,
            lambda tmp: chunks.write_users(tmp, dict(p.users), spec, p.seed, p.chunk_users),
            lambda tmp: gate_users(tmp, spec),
            log_artifact=False,
        )
        table = pq.read_table(OUT, columns=["split", "n_active"]).to_pandas()
        per_split = table.groupby("split")["n_active"].agg(["size", "mean"])
        metrics = {f"users.{s}": int(per_split.loc[s, "size"]) for s in per_split.index}
        metrics["users.total"] = len(table)
        metrics["active_dims.mean"] = float(table["n_active"].mean()) if len(table) else 0.0
        st.report(metrics)
    return str(OUT)
