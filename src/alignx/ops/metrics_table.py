"""`make metrics`: the metrics DVC tracks as a narrow markdown table, one row per figure, filtered by key.

`dvc metrics show` prints one column per key of every metrics file (over a hundred); this reads the same figures
(`dvc metrics show --json`, so experiments and revisions resolve as DVC does) and prints `| file | key | value |`
rows for the keys matching a regular expression, by default the headline figures:

    python -m alignx.ops.metrics_table                       # headline figures (HEADLINE)
    python -m alignx.ops.metrics_table 'robustness|speed'    # any key matching the expression
    python -m alignx.ops.metrics_table . -- -A               # every key; arguments after -- go to dvc
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

# Accuracy and gain of the aligner on every eval set, and the trained aligners' val accuracy.
HEADLINE = r"^(test|eval_sets\.[^.]+)\.(aligner|best_baseline|gain)$|^val/accuracy$"


def flatten(doc: Any, prefix: str = "") -> dict[str, Any]:
    """Nested metrics as `a.b.c` keys (lists and scalars kept as leaves)."""
    if not isinstance(doc, dict):
        return {prefix: doc}
    out: dict[str, Any] = {}
    for key, value in doc.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def rows(shown: dict, pattern: str) -> list[tuple[str, str, str, Any]]:
    """(revision, file, key, value) of every figure of `dvc metrics show --json` output whose key matches."""
    found = []
    regex = re.compile(pattern)
    for rev, body in shown.items():
        for file, content in ((body or {}).get("data") or {}).items():
            for key, value in flatten((content or {}).get("data") or {}).items():
                if regex.search(key):
                    found.append((rev or "workspace", file, key, value))
    return found


def markdown(found: list[tuple[str, str, str, Any]]) -> str:
    revs = {r for r, *_ in found}
    head = ["revision"] * (len(revs) > 1) + ["file", "key", "value"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rev, file, key, value in found:
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        lines.append("| " + " | ".join([rev] * (len(revs) > 1) + [file, key, shown]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    pattern = argv[0] if argv else HEADLINE
    dvc = Path(sys.executable).with_name("dvc")
    done = subprocess.run([str(dvc) if dvc.exists() else "dvc", "metrics", "show", "--json", *extra],
                          capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return done.returncode
    print(markdown(rows(json.loads(done.stdout or "{}"), pattern)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
