"""What a stage imports before its flow starts (issue 29, "less between stages"): libraries a stage does not use
under the defaults stay out of its start-up. `bench/startup_profile.py` measures the seconds; this protects which."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported(module: str, libraries: tuple[str, ...]) -> dict[str, bool]:
    """Which of `libraries` a fresh interpreter has loaded after `import <module>`."""
    code = f"import json, sys, {module}; print(json.dumps({{k: k in sys.modules for k in {list(libraries)!r}}}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True,
                         env={"PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("module", "absent"), [
    ("flows.format", ("torch", "matplotlib", "peft", "deepspeed")),  # the annotator's network only under directions.use
    ("flows.eval_inputs", ("matplotlib", "peft", "deepspeed")),  # length plots are the format stage's
])
def test_a_stage_does_not_import_what_it_does_not_use(module, absent):
    found = imported(module, absent)
    assert not any(found.values()), f"{module} imports {[k for k, v in found.items() if v]} at start-up"
