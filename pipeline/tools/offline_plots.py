"""An HTML template for `dvc plots show` that works offline.

DVC's default page loads Vega, Vega-Lite and Vega-Embed from a CDN. This writes
``.dvc/plots/offline.html`` with the three libraries inlined (bundled by vl-convert, which ships
them) and no ``{scripts}`` placeholder, so DVC adds no CDN tags, and points this clone's
``plots.html_template`` at it (``.dvc/config.local``, not committed: a plain clone keeps DVC's
own page, which works online). scripts/setup.sh runs this once after installing.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.plumbing.files import write_text

TEMPLATE = Path(".dvc") / "plots" / "offline.html"
VEGA_LITE = "5.21"  # DVC writes Vega-Lite v5 specs

PAGE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>DVC Plot</title>
    <script type="text/javascript">
__BUNDLE__
    </script>
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


def run(path: Path = TEMPLATE) -> Path:
    import vl_convert

    bundle = vl_convert.javascript_bundle(vl_version=VEGA_LITE).replace("</script", "<\\/script")
    write_text(path, PAGE.replace("__BUNDLE__", bundle))
    from dvc.repo import Repo

    with Repo() as repo, repo.config.edit("local") as config:
        config["plots"]["html_template"] = str(path.relative_to(".dvc"))
    return path
