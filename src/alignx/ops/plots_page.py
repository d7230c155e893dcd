"""`dvc plots show` offline: DVC's page loads Vega from a CDN, so without network its plots stay blank.

`write(path)` writes an HTML template for DVC (`plots.html_template`) with the Vega, Vega-Lite and Vega-Embed
bundle of vl-convert-python inlined in place of DVC's CDN `<script>` tags; `make install` writes it to
`.dvc/tmp/offline-plots.html` and points `.dvc/config.local` at it. `python -m alignx.ops.plots_page <path>`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# DVC's own page (dvc_render.html.PAGE_HTML) with the bundle where DVC puts its `{scripts}`.
PAGE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>DVC Plot</title>
    <script>%s</script>
    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def write(path: Path) -> Path:
    """Write the offline template to `path` (through a temporary file: a half-written page is never used)."""
    import vl_convert

    bundle = vl_convert.javascript_bundle()
    if "</script" in bundle:  # would end the inline <script> early
        raise RuntimeError("vl-convert's JavaScript bundle contains '</script': cannot inline it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(PAGE % bundle, encoding="utf-8")
    tmp.replace(path)
    return path


if __name__ == "__main__":
    print(f"alignx: wrote {write(Path(sys.argv[1]))} (dvc plots show works offline)")
