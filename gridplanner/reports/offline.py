"""Make a folium page self-contained: the CDN scripts and styles it links are replaced by inlined copies of the
same libraries from ``web/node_modules`` (installed from the npm registry by scripts/setup.sh)."""

from __future__ import annotations

import re
from pathlib import Path

from gridplanner.settings import get_settings


class ReportError(RuntimeError):
    """A report that cannot be made (missing library files, a link that cannot be inlined, no data)."""


#: File name at the end of a CDN link -> the npm package file with the same library.
LOCAL_ASSETS = {
    "leaflet.js": "leaflet/dist/leaflet.js",
    "leaflet.css": "leaflet/dist/leaflet.css",
    "leaflet_heat.min.js": "leaflet.heat/dist/leaflet-heat.js",
    "leaflet-heat.js": "leaflet.heat/dist/leaflet-heat.js",
}
#: The only libraries the reports need; folium's other defaults (jQuery, Bootstrap, icon fonts) are left out.
MAP_JS = [("leaflet", "https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.js")]
MAP_CSS = [("leaflet_css", "https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.css")]

_SCRIPT = re.compile(r'<script\s+src="([^"]+)"\s*>\s*</script>')
_STYLE = re.compile(r'<link\s+rel="stylesheet"\s+href="([^"]+)"\s*/?>')
_EXTERNAL = re.compile(r'<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)="(?:https?:)?//[^"]*"', re.I)


def node_modules() -> Path:
    return get_settings().web_dir / "node_modules"


def _local(url: str) -> str:
    name = url.rsplit("/", 1)[-1].split("?")[0]
    rel = LOCAL_ASSETS.get(name)
    if rel is None:
        raise ReportError(f"the report links {url}, which has no local copy to inline (known: {', '.join(sorted(LOCAL_ASSETS))})")
    path = node_modules() / rel
    if not path.is_file():
        raise ReportError(f"{path} is missing: run scripts/setup.sh to install the front-end packages (web/package.json)")
    # A literal "</script>" inside the library would end the inline element early.
    return path.read_text(encoding="utf-8").replace("</script", "<\\/script")


def inline_assets(html: str) -> str:
    """``html`` with every linked script and stylesheet inlined; raises if anything external is left."""
    html = _SCRIPT.sub(lambda m: f"<script>/* {m.group(1).rsplit('/', 1)[-1]} (inlined) */\n{_local(m.group(1))}\n</script>", html)
    html = _STYLE.sub(lambda m: f"<style>/* {m.group(1).rsplit('/', 1)[-1]} (inlined) */\n{_local(m.group(1))}\n</style>", html)
    left = _EXTERNAL.findall(html)
    if left:
        raise ReportError(f"the report still loads from the network: {left[:3]}")
    return html
