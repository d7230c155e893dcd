"""Headless Debian Chromium for the UI tests: render a JS app, return its visible text, keep a screenshot."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1400,1000",
]
# Virtual time given to the page's scripts, in ms; doubled on each retry until the expected text shows.
BUDGETS = (10_000, 20_000, 40_000)


def find_or_install() -> str:
    """Path of the chromium binary, installed from Debian when missing; skips the test when impossible."""
    found = shutil.which("chromium")
    if found:
        return found
    if not shutil.which("apt-get"):
        pytest.skip("chromium is not installed and apt-get is unavailable to install it (Debian package `chromium`)")
    if os.geteuid() != 0:
        pytest.skip("chromium is not installed and installing it with apt-get needs root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"]):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        if done.returncode != 0:
            pytest.skip(f"`{' '.join(cmd)}` failed, cannot install chromium:\n{done.stderr[-2000:]}")
    return shutil.which("chromium") or pytest.fail("apt-get installed chromium but it is not on PATH")


def visible_text(dom: str) -> str:
    """The page's text without scripts, styles and tags, whitespace collapsed."""
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom)))


def render(binary: str, url: str, expect: list[str], screenshot: Path) -> str:
    """Render `url` until every string of `expect` is in its visible text (or the budgets run out); save a
    screenshot of the last attempt and return that text."""
    text = ""
    for budget in BUDGETS:
        with tempfile.TemporaryDirectory(prefix="chromium-") as profile:  # a fresh profile each time
            done = subprocess.run(
                [binary, *FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget}",
                 f"--screenshot={screenshot}", "--dump-dom", url],
                capture_output=True, text=True, timeout=120,
            )
        text = visible_text(done.stdout)
        if all(e in text for e in expect):
            break
    return text
