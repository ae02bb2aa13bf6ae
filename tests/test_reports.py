"""Offline reports: self-contained HTML (no CDN), Chinese legends and tooltips, and a headless browser opening
them with the network cut off draws the grids and the heatmap."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gridplanner.cli import app
from gridplanner.reports import ReportError, build_report
from gridplanner.reports.offline import inline_assets
from tests.test_tiles import load_layers

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _no_network_links(page: str) -> None:
    assert not re.search(r'<(script|link|img|iframe)\b[^>]*\b(src|href)="(https?:)?//', page)
    assert "<script>/* leaflet.js (inlined) */" in page and "<style>/* leaflet.css (inlined) */" in page


@pytest.mark.parametrize(
    "kind,labels",
    [
        ("coverage", ["网格覆盖报告", "户数", "规模状态", "偏小", "适中", "偏大", "网格编码"]),
        ("staffing", ["网格力量报告", "配备情况", "网格长", "专职网格员", "兼职网格员", "配齐"]),
        ("incidents", ["事件报告", "未结案事件数", "超期", "事件热力"]),
    ],
)
def test_reports_are_self_contained_with_chinese_legends(db, tmp_path, kind, labels):
    load_layers(db, tmp_path)
    page = build_report(db, kind)
    _no_network_links(page)
    for label in labels:  # in the legend as is, in tooltips JSON-escaped
        assert label in page or json.dumps(label)[1:-1] in page
    if kind == "incidents":
        assert "leaflet_heat.min.js (inlined)" in page and "L.heatLayer" in page


def test_a_link_without_local_copy_is_refused():
    with pytest.raises(ReportError, match="no local copy"):
        inline_assets('<html><script src="https://cdn.example.com/jquery.min.js"></script></html>')


def test_report_without_a_published_plan_says_why(db):
    with pytest.raises(ReportError, match="is a plan published"):
        build_report(db, "coverage")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package chromium), so the report cannot be opened headless")
@pytest.mark.parametrize("kind,grids", [("coverage", True), ("incidents", True)])
def test_report_opens_in_a_browser_with_no_network(db, tmp_path, kind, grids):
    data = load_layers(db, tmp_path)
    path = tmp_path / f"{kind}.html"
    path.write_text(build_report(db, kind), encoding="utf-8")
    # Every request to the network goes to a proxy that does not exist: only the file itself can load.
    dom = subprocess.run(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
         "--window-size=1200,800", "--virtual-time-budget=5000", "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout
    assert re.search(r'class="[^"]*\bleaflet-container\b', dom), "Leaflet did not start: a script failed to load"
    polygons = re.findall(r'<path class="leaflet-interactive', dom)
    assert len(polygons) >= len(data["codes"])  # every grid drawn
    assert "户数" in dom or "未结案" in dom  # the legend panel is in the page
    if kind == "incidents":
        assert "leaflet-heatmap-layer" in dom  # the heatmap canvas


def test_report_command_writes_the_file(committed_db, tmp_path):
    with Session(bind=committed_db) as session:
        load_layers(session, tmp_path)
        session.commit()
    out = tmp_path / "r" / "staffing.html"
    result = CliRunner().invoke(app, ["report", "staffing", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "opens with no network" in result.output
    _no_network_links(out.read_text(encoding="utf-8"))
    bad = CliRunner().invoke(app, ["report", "incidents", "--out", str(tmp_path / "x.html"), "--start", "yesterday"])
    assert bad.exit_code != 0 and "ISO 8601" in bad.output
