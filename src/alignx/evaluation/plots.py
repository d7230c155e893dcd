"""Plot data (CSV, declared as DVC plots) and the same figures as PNG (matplotlib; `dvc plots show` loads its
chart library from a CDN, which is unreachable offline)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on CI or servers
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from alignx.evaluation.metrics import METHODS, OPTIONAL  # noqa: E402
from alignx.evaluation.results import AlignerResults  # noqa: E402

FILES = ("accuracy.csv", "robustness.csv", "accuracy.png", "robustness.png")
PBA_FILES = ("controllability.csv", "controllability.png")


def accuracy_table(res: AlignerResults) -> pd.DataFrame:
    """Long table: eval set, method, accuracy, pairs, bar label (test per mode included as `test_<mode>`)."""
    rows = [
        {"eval_set": name, "method": m, "accuracy": s[m], "n": s["n"]}
        for name, s in res.sets.items() for m in (*METHODS, *OPTIONAL) if m in s
    ]
    rows += [
        {"eval_set": f"test_{r['mode']}", "method": m, "accuracy": r[m], "n": r["n"]}
        for r in res.by_mode.to_dict("records")
        for m in (*METHODS, *OPTIONAL) if m in r
    ]
    if res.oracle is not None:
        rows.append({"eval_set": "test", "method": "oracle_profile", "accuracy": res.oracle["accuracy"],
                     "n": res.oracle["n"]})
    table = pd.DataFrame(rows)
    # One bar per (eval set, method): `dvc plots show` draws bar_horizontal with y = `bar`, so the methods of one
    # eval set stand side by side instead of stacking into a sum.
    table["bar"] = table["eval_set"] + ": " + table["method"]
    return table


def write_plots(res: AlignerResults, folder: Path) -> list[Path]:
    """Write the CSV plot data and PNG figures of one aligner into `folder`; return the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    table = accuracy_table(res)
    table.to_csv(folder / "accuracy.csv", index=False)
    res.robustness.to_csv(folder / "robustness.csv", index=False)
    _accuracy_png(table, res.aligner, folder / "accuracy.png")
    _robustness_png(res.robustness, res.aligner, folder / "robustness.png")
    written = [folder / f for f in FILES]
    if res.control_dims is not None:
        res.control_dims.to_csv(folder / "controllability.csv", index=False)
        _controllability_png(res.control_dims, folder / "controllability.png")
        written += [folder / f for f in PBA_FILES]
    return written


def _accuracy_png(table: pd.DataFrame, aligner: str, path: Path) -> None:
    wide = table.pivot_table(index="eval_set", columns="method", values="accuracy", sort=False) * 100
    ax = wide.plot.bar(figsize=(max(6, 1.2 * len(wide)), 4), width=0.8)
    ax.axhline(50, color="grey", lw=0.8, ls="--")
    ax.set(ylabel="alignment accuracy (%)", xlabel="", ylim=(0, 100), title=f"{aligner.upper()}: accuracy by eval set")
    ax.legend(fontsize=8, loc="lower right")
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    _save(ax, path)


def _robustness_png(curve: pd.DataFrame, aligner: str, path: Path) -> None:
    _, ax = plt.subplots(figsize=(5, 3.5))
    for kind, label in (("ugc", "UGC items"), ("pair", "PAIR items")):
        ax.plot(curve["k"], curve[kind] * 100, marker="o", label=label)
    ax.set(xlabel="history items shown", ylabel="accuracy (%)", xticks=list(curve["k"]),
           title=f"{aligner.upper()}: robustness to limited user data")
    ax.legend()
    _save(ax, path)


def _controllability_png(dims: pd.DataFrame, path: Path) -> None:
    _, ax = plt.subplots(figsize=(10, 3.5))
    ax.bar(dims["dim"] - 0.2, dims["flip_non_neutral"] * 100, width=0.4, label="non-neutral pairs")
    ax.bar(dims["dim"] + 0.2, dims["flip_neutral"] * 100, width=0.4, label="neutral pairs")
    ax.axhline(80, color="C0", lw=0.8, ls="--")
    ax.axhline(10, color="C1", lw=0.8, ls="--")
    ax.set(xlabel="dimension", ylabel="preferred response flips (%)", ylim=(0, 100),
           title="PBA controllability: flip one dimension's label in the profile")
    ax.legend(fontsize=8)
    _save(ax, path)


def _save(ax: plt.Axes, path: Path) -> None:
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=110)
    plt.close(ax.figure)
