"""Stage `personas`: the synthetic users (direction vectors, split, DEMO text) of every split, drawn chunk by chunk
(alignx.world.users), and their gate; `data/personas/users.parquet`."""

from __future__ import annotations

from pathlib import Path

import great_expectations.expectations as gxe
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from alignx import space
from alignx.config import PersonasConfig
from alignx.contracts import SPLITS
from alignx.pipeline import gates
from alignx.world import records, users
from alignx.world.chunks import COMPRESSION, chunk_rng

USER_SCHEMA = pa.schema(
    [("user_id", pa.string()), ("split", pa.string()), ("direction", pa.list_(pa.float32())),
     ("demo", pa.string()), ("n_active", pa.int32())]
)  # fmt: skip


def write_users(path: Path, cfg: PersonasConfig) -> pa.Table:
    """Draw every split's users (params `personas`) chunk by chunk and write them (one row group per chunk); return
    the table."""
    counts, seed, chunk_users = dict(cfg.users), cfg.seed, cfg.chunk_users
    unknown = set(counts) - set(SPLITS)
    if unknown:
        raise ValueError(f"params personas.users: unknown split(s) {sorted(unknown)} (splits: {SPLITS})")
    tables, first_id = [], 0
    plan = [(s, i) for s in SPLITS for i in range(-(-counts.get(s, 0) // chunk_users))]
    for split, index in tqdm(plan, desc="personas", unit="chunk"):
        n = min(chunk_users, counts[split] - index * chunk_users)
        rng = chunk_rng(seed, split, index)
        directions = users.sample_directions(rng, n, cfg, novel=split == "novel")
        demos = [users.render_demo(rng, d, cfg) for d in directions]
        ids = [f"u{first_id + k:07d}" for k in range(n)]
        first_id += n
        tables.append(
            pa.Table.from_arrays(
                [pa.array(ids), pa.array([split] * n), pa.array(list(directions), USER_SCHEMA.field("direction").type),
                 pa.array(demos), pa.array((directions != 0.5).sum(axis=1), pa.int32())],
                schema=USER_SCHEMA,
            )
        )  # fmt: skip
    table = pa.concat_tables(tables) if tables else USER_SCHEMA.empty_table()
    pq.write_table(table, path, row_group_size=chunk_users, compression=COMPRESSION)
    return table


def gate_users(path: Path, cfg: PersonasConfig) -> gates.GateResult:
    """Directions valid, sparsity within bounds, ids unique, novel dimensions neutral for non-novel users."""
    table = pq.read_table(path)
    directions = table.column("direction").combine_chunks()
    flat = directions.flatten().to_numpy(zero_copy_only=False)
    frame = table.select(["user_id", "split", "demo", "n_active"]).to_pandas()
    frame["direction_ok"] = records.vectors_ok(directions, allow_null=False)
    novel_on = np.zeros(len(frame), dtype=bool)
    if len(frame) and cfg.novel_indices and frame["direction_ok"].all():
        novel_on = (flat.reshape(-1, space.N_DIMS)[:, list(cfg.novel_indices)] != 0.5).any(axis=1)
    frame["novel_dims_only_for_novel_users"] = ~novel_on | (frame["split"] == "novel")
    lo, hi = cfg.active_dims
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


def personas_figures(path: Path) -> dict[str, float]:
    """Users per split, in total, and their mean number of non-neutral dimensions."""
    table = pq.read_table(path, columns=["split", "n_active"]).to_pandas()
    per_split = table.groupby("split")["n_active"].agg(["size", "mean"])
    metrics = {f"users.{s}": int(per_split.loc[s, "size"]) for s in per_split.index}
    metrics["users.total"] = len(table)
    metrics["active_dims.mean"] = float(table["n_active"].mean()) if len(table) else 0.0
    return metrics
