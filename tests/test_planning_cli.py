"""``gridplanner plan`` on files: outputs by extension, the report, clear errors."""

import json

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from typer.testing import CliRunner

from gridplanner.cli import app
from test_planning import frame, lattice_buildings
from test_planning_checks import assert_guarantees

runner = CliRunner()


def flat(res):
    return " ".join(res.output.split())


@pytest.fixture()
def inputs(tmp_path):
    rng = np.random.default_rng(11)
    comm = frame([shapely.box(0, 0, 600, 500), shapely.box(600, 0, 1200, 500)], code=["110101001001", "110101001002"])
    blds, hh = lattice_buildings(rng, (0, 0, 1200, 500), hh=(10, 50))
    inside = [i for i, g in enumerate(blds) if g.intersects(shapely.box(0, 0, 1200, 500))]
    blds, hh = [blds[i] for i in inside], [hh[i] for i in inside]
    blds.append(shapely.box(3000, 3000, 3010, 3010))  # in no community
    hh.append(5)
    b = frame(blds, households=hh)
    roads = frame([shapely.LineString([(300, -10), (300, 510)])])
    paths = {"communities": tmp_path / "c.geojson", "buildings": tmp_path / "b.gpkg", "roads": tmp_path / "r.fgb"}
    comm.to_file(paths["communities"])
    b.to_file(paths["buildings"])
    roads.to_file(paths["roads"])
    return paths, comm, b


@pytest.mark.parametrize("ext", [".gpkg", ".geojson", ".fgb", ".shp"])
def test_plan_writes_grids_and_report(inputs, tmp_path, ext):
    paths, comm, b = inputs
    out, report = tmp_path / f"grids{ext}", tmp_path / "report.json"
    res = runner.invoke(app, ["plan", "--communities", str(paths["communities"]), "--buildings", str(paths["buildings"]),
                              "--roads", str(paths["roads"]), "--min-households", "200", "--max-households", "400",
                              "--out", str(out), "--report", str(report)])
    assert res.exit_code == 0, res.output
    grids = pyogrio.read_dataframe(out)
    assert grids.crs.to_epsg() == 4490
    fields = {"community_code", "households", "population", "type", "area_m2", "buildings"}
    if ext == ".shp":  # dBASE keeps 10 characters of a field name
        fields = {f[:10] for f in fields}
    assert fields <= set(grids.columns)
    rep = json.loads(report.read_text())
    assert len(rep["unplaced"]) == 1 and rep["self_check"]["ok"]
    assert grids["households"].sum() == sum(c["households"] for c in rep["communities"])
    # Each grid has its code by the default rule: the community's 12 digits and a sequence, north to south.
    codes = grids["code"].astype(str)
    community = grids["community_" if ext == ".shp" else "community_code"].astype(str)
    assert codes.str.len().eq(15).all() and (codes.str[:12] == community).all()
    assert codes.is_unique
    if ext == ".gpkg":
        from gridplanner.planning import PlanResult
        planned = gpd.read_file(out, layer="communities")
        assert_guarantees(PlanResult(gpd.read_file(out, layer=out.stem), rep, planned), comm, b)


def test_plan_errors_are_clear(inputs, tmp_path):
    paths, _, _ = inputs
    base = ["plan", "--communities", str(paths["communities"]), "--out", str(tmp_path / "g.gpkg")]
    res = runner.invoke(app, base)
    assert res.exit_code == 2 and "no buildings file" in flat(res)
    res = runner.invoke(app, base + ["--buildings", str(paths["buildings"]), "--min-households", "600"])
    assert res.exit_code == 2 and "greater than max" in flat(res)
    res = runner.invoke(app, base + ["--buildings", str(tmp_path / "missing.gpkg")])
    assert res.exit_code == 2 and "missing.gpkg: file not found" in flat(res)
    res = runner.invoke(app, base + ["--buildings", str(paths["buildings"]), "--code-field", "zone"])
    assert res.exit_code == 2 and "no 'zone' field" in flat(res)
    # Roads given as polygons: the file and the problem are named.
    res = runner.invoke(app, base + ["--buildings", str(paths["buildings"]), "--roads", str(paths["communities"])])
    assert res.exit_code == 2 and "c.geojson" in flat(res) and "expected line" in flat(res)
    assert not (tmp_path / "g.gpkg").exists()


def _plan_args(paths, out, *extra):
    return ["plan", "--communities", str(paths["communities"]), "--buildings", str(paths["buildings"]),
            "--roads", str(paths["roads"]), "--out", str(out), *extra]


def test_an_engine_fault_is_internal_not_the_users(inputs, tmp_path, monkeypatch):
    """A bug in the engine (here: numpy's error on an empty reduction, as once seen on real OSM data) is
    reported as internal, with the log's path, and nothing is written."""
    import gridplanner.cli.plan as cli_plan

    def broken(*args, **kwargs):
        return np.ptp(np.zeros(0))

    monkeypatch.setattr(cli_plan, "divide", broken)
    monkeypatch.setenv("GRIDPLANNER_HOME", str(tmp_path / "home"))
    from gridplanner.settings import get_settings
    get_settings.cache_clear()
    try:
        out = tmp_path / "g.gpkg"
        res = runner.invoke(app, _plan_args(inputs[0], out))
    finally:
        get_settings.cache_clear()
    assert res.exit_code == 70, res.output
    text = flat(res)
    assert "internal error in gridplanner plan" in text and "not in your data" in text and "Nothing was written" in text
    log = tmp_path / "home" / "logs" / "errors.log"
    assert f"the traceback was written to {log}" in text
    assert "zero-size array" in log.read_text() and "Traceback" in log.read_text()
    assert not out.exists()


def test_a_community_the_engine_fails_on_gets_a_fallback_and_exit_3(inputs, tmp_path, monkeypatch):
    import gridplanner.planning.checked as checked

    real = checked.plan_community

    def fails_on_the_first(data, rule, frame, **kw):
        if data.region.bounds[0] < 120.0001:  # the western community
            raise IndexError("planted fault")
        return real(data, rule, frame, **kw)

    monkeypatch.setattr(checked, "plan_community", fails_on_the_first)
    out, report = tmp_path / "g.gpkg", tmp_path / "r.json"
    res = runner.invoke(app, _plan_args(inputs[0], out, "--report", str(report)))
    assert res.exit_code == 3, res.output
    assert "1 communities not divided (see report)" in flat(res)
    rep = json.loads(report.read_text())
    (fb,) = rep["fallbacks"]
    assert fb["community_code"] == "110101001001" and fb["fallback"] == "whole"
    assert "internal error IndexError: planted fault" in fb["reasons"][0]
    grids = gpd.read_file(out, layer="g")
    mine = grids[grids["community_code"] == "110101001001"]
    assert len(mine) == 1 and (mine["fallback"] == "whole").all()
    assert grids[grids["community_code"] == "110101001002"]["fallback"].isna().all()
    from gridplanner.planning import PlanResult
    assert_guarantees(PlanResult(grids, rep, gpd.read_file(out, layer="communities")), inputs[1], inputs[2])


def test_duplicate_codes_are_named_and_can_be_dissolved(inputs, tmp_path):
    paths, comm, _ = inputs
    dup = comm.assign(code=["110101001001", "110101001001"], name=["兴浦社区", "兴浦社区"])
    dup.to_file(tmp_path / "dup.geojson")
    args = ["plan", "--communities", str(tmp_path / "dup.geojson"), "--buildings", str(paths["buildings"]), "--out", str(tmp_path / "g.gpkg")]
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    assert "dup.geojson: feature 0 (110101001001 兴浦社区): code 110101001001 is shared by features 0 (兴浦社区), 1 (兴浦社区)" in flat(res)
    assert "--dissolve-duplicate-codes" in flat(res) and not (tmp_path / "g.gpkg").exists()
    res = runner.invoke(app, args + ["--dissolve-duplicate-codes"])
    assert res.exit_code == 0, res.output
    assert set(gpd.read_file(tmp_path / "g.gpkg", layer="g")["community_code"]) == {"110101001001"}


def test_codes_need_12_digit_community_codes(inputs, tmp_path):
    paths, comm, _ = inputs
    comm.assign(code=["c1", "c2"]).to_file(tmp_path / "c.geojson")
    args = ["plan", "--communities", str(tmp_path / "c.geojson"), "--buildings", str(paths["buildings"]), "--out", str(tmp_path / "g.gpkg")]
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "feature 0 (c1): code 'c1' is not a 12-digit" in flat(res) and "--no-codes" in flat(res)
    res = runner.invoke(app, args + ["--no-codes"])
    assert res.exit_code == 0, res.output
    assert "code" not in gpd.read_file(tmp_path / "g.gpkg", layer="g").columns


def test_cli_and_api_share_the_rural_rule(inputs, tmp_path):
    """Rural communities get 250–350 households by default on the command line, as in the API."""
    paths, comm, _ = inputs
    comm.assign(**{"class": ["rural", "urban"]}).to_file(tmp_path / "c.geojson")
    report = tmp_path / "r.json"
    res = runner.invoke(app, ["plan", "--communities", str(tmp_path / "c.geojson"), "--buildings", str(paths["buildings"]),
                              "--out", str(tmp_path / "g.gpkg"), "--report", str(report)])
    assert res.exit_code == 0, res.output
    per = {c["community_code"]: c for c in json.loads(report.read_text())["communities"]}
    assert (per["110101001001"]["min"], per["110101001001"]["max"]) == (250, 350)
    assert (per["110101001002"]["min"], per["110101001002"]["max"]) == (300, 500)
