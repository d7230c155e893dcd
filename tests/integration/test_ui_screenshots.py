"""The two UIs a user opens, in a headless browser: the MLflow page of a registered aligner (its description /
model card and signature) and the Prefect flow-runs page, served on 127.0.0.1 from the repository's own stores
(`mlflow.db`, `.prefect/`; copies, so nothing is written to them). Skipped without chromium, or before a
pipeline run has filled those stores.

    ALIGNX_SCREENSHOTS=1 pytest tests/integration/test_ui_screenshots.py   # also saves reports/screenshots/*.png
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from alignx.env import free_port
from alignx.ops import services
from tests.pipeline.chromium import BUDGETS, FLAGS, visible_text

REPO = Path(__file__).resolve().parents[2]
SAVE_ENV = "ALIGNX_SCREENSHOTS"
SAVED = REPO / "reports" / "screenshots"
WINDOW = "--window-size=1400,900"


def chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if not found:
        pytest.skip("chromium is not installed (Debian package `chromium`)")
    return found


def screenshot(binary: str, url: str, out: Path, expect: list[str]) -> str:
    """Render `url` (more virtual time on each try until every string of `expect` shows), save a 1400x900 PNG."""
    import subprocess
    import tempfile

    text = ""
    for budget in (15_000, *BUDGETS[1:]):
        with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
            flags = [f for f in FLAGS if not f.startswith("--window-size")] + [WINDOW]
            done = subprocess.run([binary, *flags, f"--user-data-dir={profile}", f"--virtual-time-budget={budget}",
                                   f"--screenshot={out}", "--dump-dom", url], capture_output=True, text=True, timeout=180)
        text = visible_text(done.stdout)
        if all(e in text for e in expect):
            break
    return text


def not_blank(png: Path) -> bool:
    """The screenshot holds a page: many colours, not one flat fill."""
    from PIL import Image

    with Image.open(png) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    return colours is None or len(colours) > 20


def registered_version(db: Path) -> tuple[str, str] | None:
    """(name, version) of the newest version of an aligner registered in MLflow store `db`, if any."""
    with sqlite3.connect(db) as con:
        row = con.execute("SELECT name, version FROM model_versions WHERE name LIKE 'alignx-%' AND name != "
                          "'alignx-annotator' ORDER BY creation_time DESC LIMIT 1").fetchone()
    return (row[0], str(row[1])) if row else None


@pytest.fixture
def stores(tmp_path) -> dict[str, Path]:
    """Copies of the repository's MLflow store and Prefect database; skip when the pipeline has not filled them."""
    db, prefect_db = REPO / "mlflow.db", REPO / ".prefect" / "prefect.db"
    if not db.exists() or registered_version(db) is None or not prefect_db.exists():
        pytest.skip("no registered aligner in mlflow.db or no .prefect/prefect.db: run the pipeline first")
    (tmp_path / ".prefect").mkdir()
    for source, dest in ((db, tmp_path / "mlflow.db"), (prefect_db, tmp_path / ".prefect" / "prefect.db")):
        with sqlite3.connect(source) as src, sqlite3.connect(dest) as out:
            src.backup(out)  # a consistent copy, the write-ahead log included
    return {"mlflow": tmp_path / "mlflow.db", "prefect_home": tmp_path / ".prefect", "run": tmp_path / "run"}


def test_mlflow_model_page_and_prefect_runs_page_render(stores, tmp_path):
    binary = chromium()
    out = SAVED if os.environ.get(SAVE_ENV) else tmp_path / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    name, version = registered_version(stores["mlflow"])
    mlflow_port, prefect_port = free_port(), free_port()
    bin_dir = Path(services.tool("mlflow")).parent
    started = []
    try:
        ui = services.start("mlflow-ui", [str(bin_dir / "mlflow"), "server", "--backend-store-uri",
                                          f"sqlite:///{stores['mlflow']}", "--artifacts-destination",
                                          str(REPO / "mlartifacts"), "--host", "127.0.0.1", "--port",
                                          str(mlflow_port), "--workers", "1"],
                            url=f"http://127.0.0.1:{mlflow_port}", run_dir=stores["run"])
        started.append("mlflow-ui")
        api = f"http://127.0.0.1:{prefect_port}/api"
        prefect = services.start("prefect-server", [str(bin_dir / "prefect"), "server", "start", "--host", "127.0.0.1",
                                                    "--port", str(prefect_port)], url=api.removesuffix("/api"),
                                 env={"PREFECT_HOME": str(stores["prefect_home"]), "PREFECT_SERVER_UI_API_URL": api,
                                      "PREFECT_API_URL": api}, run_dir=stores["run"])
        started.append("prefect-server")
        services.wait_healthy(ui, f"{ui.url}/health")
        services.wait_healthy(prefect, f"{api}/health")

        model_png = out / "mlflow-model.png"
        text = screenshot(binary, f"{ui.url}/#/models/{name}/versions/{version}", model_png, [name, "Description"])
        assert model_png.exists() and not_blank(model_png), text[:2000]
        assert name in text, text[:2000]

        runs_png = out / "prefect-flow-runs.png"
        text = screenshot(binary, f"{prefect.url}/runs", runs_png, ["Runs"])
        assert runs_png.exists() and not_blank(runs_png), text[:2000]
    finally:
        for service in started:
            services.stop(service, stores["run"])
