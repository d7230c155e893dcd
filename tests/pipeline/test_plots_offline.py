"""`dvc plots show` draws its plots without network, through the template `make install` configures."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from alignx.ops import plots_page
from tests.pipeline import chromium

DVC = str(Path(sys.executable).parent / "dvc")
PLOTS = """plots:
  - robustness.csv:
      x: k
      y: [ugc, pair]
"""


def drawn_plots(binary: str, page: Path) -> int:
    """Vega views drawn on `page` with every host name unresolvable (no CDN)."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        done = subprocess.run(
            [binary, *chromium.FLAGS, f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
             "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120,
        )
    return done.stdout.count('class="marks"')


def test_dvc_plots_show_draws_offline_with_the_configured_template(tmp_path):
    binary = chromium.find_or_install()
    repo = tmp_path / "repo"
    repo.mkdir()
    for cmd in (["git", "init", "-q"], [DVC, "init", "-q"]):
        subprocess.run(cmd, cwd=repo, check=True)
    (repo / "robustness.csv").write_text("k,ugc,pair\n1,0.6,0.55\n2,0.7,0.62\n3,0.74,0.7\n")
    (repo / "dvc.yaml").write_text(PLOTS)

    def show(out: str) -> Path:
        subprocess.run([DVC, "plots", "show", "-o", out], cwd=repo, check=True, capture_output=True)
        return repo / out / "index.html"

    # DVC's own page needs its CDN: offline it draws nothing (what the template fixes).
    assert drawn_plots(binary, show("cdn")) == 0
    plots_page.write(repo / ".dvc" / "tmp" / "offline-plots.html")
    subprocess.run([DVC, "config", "--local", "plots.html_template", "tmp/offline-plots.html"], cwd=repo, check=True)
    assert drawn_plots(binary, show("offline")) == 1
