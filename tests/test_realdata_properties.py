"""Property tests on REAL geometry: the real-data fixtures (tests/data/realdata) perturbed by hypothesis.

Each example takes 1-3 adjacent communities of a fixture (picked by code) with their buildings, perturbs them
the ways real files are messy, and runs ``divide`` (or ``merge_layers``) on the result; the hard rules are
then checked with ``assert_guarantees`` (divide) or ``assert_merge_guarantees`` (merge), in lon/lat and in
the metric Gauss-Krüger CRS.

The strategies draw PARAMETERS (codes, seeds, flags: a :class:`Case`), never geometry, so a failing example
prints as ``Case(...)`` and replays with ``build(Case(...))``. Perturbations, each a field of ``Case``:

- ``dup_vertices`` / ``near_dup``: exact (or 1e-9 deg near-) duplicate vertices inserted into the outlines;
- ``collinear`` / ``collinear_eps``: extra vertices on an edge, off it by ``collinear_eps`` degrees;
- ``spike``: a spike with a 1e-9 deg base, 5-30 m long, out of (or into) the first community;
- ``sliver``: a 1e-9 deg-thick tab along part of an edge of the first community (outward: a sliver overlap
  with the neighbour; inward: a sliver gap);
- ``hole``: a triangular hole touching the first community's outline at one vertex;
- ``exclave``: the first community gets a 30-60 m square exclave, inside a neighbour (cut out of it, as in
  communities_dirty) or detached, just outside the selection;
- ``pinch``: the first community is quartered through an interior point: NE and SW become two communities
  touching at that single point (and with ``pinch == "three"``, NW+SE one MultiPolygon community whose parts
  touch there);
- ``source == "dirty"``: Gusu's communities_dirty.geojson (overlap, gap, spike, duplicate code, ...);
- ``straddle``: some footprints moved so their centroid lies on a community line or a road;
- ``as_points``: a share of the buildings given as their representative points;
- ``drop`` / ``drop_what``: a share of the buildings without floors (or without floors and height; a share
  of 1.0 drops the columns); ``households``: a share given explicit households, the rest missing;
- ``empty``: the last community gets no buildings; ``outside``: a few buildings far outside every community;
- ``roads``: Nanshan's roads, or for Gusu (no roads) the 城管 grid lines as lines to follow;
- ``crs`` (communities) and ``bld_crs`` (buildings): EPSG:4326 as given, EPSG:4490, the metric CRS
  (4547 Nanshan, 4549 Gusu) or GCJ-02. ``divide`` takes only real CRSes; GCJ-02 input is written as a web
  map gives it (GCJ-02 lon/lat in a CRS84 GeoJSON) and read the project's way, ``read_vector(crs="gcj02")``
  (what ``gridplanner plan --crs gcj02`` does: converted to WGS84 with ``gis.webcoords``). The plan must then
  match the plan of the WGS84 input.

Replay: ``REALDATA_EXAMPLES=100 pytest tests/test_realdata_properties.py``; a failure prints its ``Case`` and
the hypothesis seed (``--hypothesis-seed=N``). Failures found are kept at the end as plain regression tests.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.affinity
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import CRS
from shapely.geometry.polygon import orient

from gis import webcoords
from gis.coverage import partition_report
from gis.errors import VectorInputError
from gis.io import read_vector, write_vector
from gridplanner.merging import merge_layers
from gridplanner.planning import SizeRule, divide, estimate_households
from test_planning_checks import assert_guarantees

DATA = Path(__file__).resolve().parent / "data" / "realdata"
METRIC = {"nanshan": 4547, "gusu": 4549}
#: Nanshan's 102 ha block 440305001018 (398 buildings) takes ~2 s alone: left out to keep examples fast.
SLOW = {"440305001018"}
M_PER_DEG = 111_320.0
EXAMPLES = int(os.environ.get("REALDATA_EXAMPLES", 15))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- the fixtures ------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def fixture(city: str, source: str = "clean") -> dict:
    folder = DATA / city
    name = "communities_dirty.geojson" if source == "dirty" else "communities.geojson"
    comm = read_vector(folder / name)
    comm["code"] = comm["code"].astype(str)
    out = {
        "communities": comm,
        "buildings": read_vector(folder / "buildings.geojson"),
        "departments": {d: read_vector(folder / "departments" / f"{d}.geojson") for d in ("综治", "城管", "党建")},
    }
    if city == "nanshan":
        out["roads"] = read_vector(folder / "roads.geojson")
    else:
        # Gusu has no roads: the 城管 squares' lines stand in for lines a plan must follow.
        cg = out["departments"]["城管"]
        out["roads"] = gpd.GeoDataFrame({"id": cg["id"]}, geometry=cg.geometry.boundary.values, crs=cg.crs)
    return out


@lru_cache(maxsize=None)
def neighbours(city: str) -> dict[str, list[str]]:
    """Each community's neighbours (sharing a line), in code order; the slow block left out."""
    comm = fixture(city)["communities"].to_crs(METRIC[city])
    codes, geoms = comm["code"].tolist(), comm.geometry.values
    out = {}
    for i, c in enumerate(codes):
        if c in SLOW:
            continue
        out[c] = sorted(codes[j] for j in range(len(codes))
                        if j != i and codes[j] not in SLOW and shapely.length(shapely.intersection(geoms[i].boundary, geoms[j].boundary)) > 1.0)
    return out


def anchors(city: str) -> list[str]:
    return sorted(neighbours(city))


# --- the parameters of one example ---------------------------------------------------------------------

class Case(NamedTuple):
    city: str = "gusu"
    anchor: str = "320508017003"
    n: int = 1
    seed: int = 0
    rule: tuple = (300, 500)
    source: str = "clean"
    dup_vertices: int = 0
    near_dup: bool = False
    collinear: int = 0
    collinear_eps: float = 0.0
    spike: str | None = None      # None, "out", "in"
    sliver: str | None = None     # None, "out", "in"
    hole: bool = False
    exclave: str | None = None    # None, "neighbour", "detached"
    pinch: str | None = None      # None, "two", "three"
    straddle: int = 0
    as_points: float = 0.0
    drop: float = 0.0
    drop_what: str = "floors"     # "floors" or "all" (floors and height)
    households: float = 0.0
    empty: bool = False
    outside: bool = False
    roads: bool = False
    crs: str = "4326"             # "4326", "4490", "metric", "gcj02"
    bld_crs: str = "4326"         # "4326", "metric", "gcj02" (only with crs == "gcj02")


OUTLINE = ("dup_vertices", "near_dup", "collinear", "collinear_eps", "spike", "sliver", "hole", "exclave", "pinch", "source")
BUILDINGS = ("straddle", "as_points", "drop", "drop_what", "households", "empty", "outside", "roads")
CRSES = ("crs", "bld_crs")


@st.composite
def cases(draw, outline=True, buildings=True, crs=True, rules=((300, 500), (100, 200))):
    """A :class:`Case`: the perturbation groups not asked for stay at their defaults (off)."""
    city = draw(st.sampled_from(["gusu", "nanshan"]))
    anchor = draw(st.sampled_from(anchors(city)))
    kw = dict(city=city, anchor=anchor, n=draw(st.integers(1, 3)), seed=draw(st.integers(0, 2**20)),
              rule=draw(st.sampled_from(list(rules))))
    if outline:
        kw.update(
            source=draw(st.sampled_from(["clean", "dirty"])) if city == "gusu" else "clean",
            dup_vertices=draw(st.integers(0, 4)),
            near_dup=draw(st.booleans()),
            collinear=draw(st.integers(0, 4)),
            collinear_eps=draw(st.sampled_from([0.0, 1e-12, 1e-10, 1e-9, -1e-9, 1e-8])),
            spike=draw(st.sampled_from([None, "out", "in"])),
            sliver=draw(st.sampled_from([None, "out", "in"])),
            hole=draw(st.booleans()),
            exclave=draw(st.sampled_from([None, "neighbour", "detached"])),
            pinch=draw(st.sampled_from([None, "two", "three"])),
        )
    if buildings:
        kw.update(
            straddle=draw(st.integers(0, 6)),
            as_points=draw(st.sampled_from([0.0, 0.1, 0.5, 1.0])),
            drop=draw(st.sampled_from([0.0, 0.2, 1.0])),
            drop_what=draw(st.sampled_from(["floors", "all"])),
            households=draw(st.sampled_from([0.0, 0.3])),
            empty=draw(st.booleans()),
            outside=draw(st.booleans()),
            roads=draw(st.booleans()),
        )
    if crs:
        c = draw(st.sampled_from(["4326", "4490", "metric", "gcj02"]))
        kw.update(crs=c, bld_crs=draw(st.sampled_from(["4326", "metric", "gcj02"] if c == "gcj02" else ["4326", "metric"])))
    return Case(**kw)


# --- geometry perturbations (lon/lat, degrees) ----------------------------------------------------------

def _deg(m: float) -> float:
    return m / M_PER_DEG


def _polygons(geom) -> list:
    return list(shapely.get_parts(geom))


def _rebuild(parts: list, like) -> object:
    if len(parts) == 1 and like.geom_type == "Polygon":
        return parts[0]
    return shapely.MultiPolygon(parts)


def _with_shell(poly, shell_xy: np.ndarray):
    return shapely.Polygon(shell_xy, [np.asarray(r.coords) for r in poly.interiors])


def _edit_shell(geom, rng, edit, tries: int = 20):
    """``edit(shell_xy, rng) -> new shell_xy`` applied to the largest part's exterior; kept when valid."""
    parts = _polygons(geom)
    k = int(np.argmax([p.area for p in parts]))
    for _ in range(tries):
        xy = edit(np.asarray(parts[k].exterior.coords), rng)
        if xy is None:
            continue
        cand = _with_shell(parts[k], xy)
        new = _rebuild(parts[:k] + [cand] + parts[k + 1:], geom)
        if cand.is_valid and new.is_valid:
            return new
    return geom


def insert_duplicates(geom, rng, count: int, near: bool):
    """``count`` vertices repeated right after themselves (1e-9 deg east when ``near``)."""
    for _ in range(count):
        def edit(xy, rng):
            i = int(rng.integers(0, len(xy) - 1))
            copy = xy[i] + ([1e-9, 0.0] if near else [0.0, 0.0])
            return np.insert(xy, i + 1, copy, axis=0)
        geom = _edit_shell(geom, rng, edit)
    return geom


def insert_collinear(geom, rng, count: int, eps: float):
    """``count`` extra vertices on edges, ``eps`` degrees off the edge (to its left)."""
    for _ in range(count):
        def edit(xy, rng):
            i = int(rng.integers(0, len(xy) - 1))
            a, b = xy[i], xy[i + 1]
            d = b - a
            norm = math.hypot(*d)
            if norm == 0:
                return None
            p = a + rng.uniform(0.05, 0.95) * d + eps * np.array([-d[1], d[0]]) / norm
            return np.insert(xy, i + 1, p, axis=0)
        geom = _edit_shell(geom, rng, edit)
    return geom


def _outward(xy: np.ndarray, i: int) -> np.ndarray:
    """Unit normal of edge i pointing out of the ring ``xy`` (either winding)."""
    d = xy[i + 1] - xy[i]
    n = np.array([d[1], -d[0]]) / math.hypot(*d)
    return n if shapely.LinearRing(xy).is_ccw else -n


def _long_edge(xy: np.ndarray, rng, min_m: float = 30.0) -> int | None:
    lengths = np.hypot(*np.diff(xy, axis=0).T)
    ok = np.flatnonzero(lengths > _deg(min_m))
    return int(rng.choice(ok)) if len(ok) else None


def add_spike(geom, rng, direction: str, base: float = 1e-9):
    """A spike with a ``base``-wide foot in the middle of an edge, 5-30 m out of (or into) the outline."""
    def edit(xy, rng):
        i = _long_edge(xy, rng)
        if i is None:
            return None
        a, b = xy[i], xy[i + 1]
        d = (b - a) / math.hypot(*(b - a))
        m = a + rng.uniform(0.3, 0.7) * (b - a)
        n = _outward(xy, i) * (1 if direction == "out" else -1)
        tip = m + n * _deg(rng.uniform(5, 30))
        return np.insert(xy, i + 1, [m - d * base / 2, tip, m + d * base / 2], axis=0)
    return _edit_shell(geom, rng, edit)


def add_sliver(geom, rng, direction: str, width: float = 1e-9):
    """A tab ``width`` degrees thick along 20-80 % of an edge: outward or inward."""
    def edit(xy, rng):
        i = _long_edge(xy, rng)
        if i is None:
            return None
        a, b = xy[i], xy[i + 1]
        s, t = sorted(rng.uniform(0.1, 0.9, 2))
        if t - s < 0.2:
            return None
        n = _outward(xy, i) * (width if direction == "out" else -width)
        p1, p2 = a + s * (b - a), a + t * (b - a)
        return np.insert(xy, i + 1, [p1, p1 + n, p2 + n, p2], axis=0)
    return _edit_shell(geom, rng, edit)


def add_touching_hole(geom, rng, tries: int = 40):
    """A triangular hole with one vertex on the outline (a vertex of the largest part's shell)."""
    parts = _polygons(geom)
    k = int(np.argmax([p.area for p in parts]))
    poly = parts[k]
    xy = np.asarray(poly.exterior.coords)[:-1]
    for _ in range(tries):
        i = int(rng.integers(0, len(xy)))
        v, prev, nxt = xy[i], xy[i - 1], xy[(i + 1) % len(xy)]
        u1, u2 = prev - v, nxt - v
        if min(math.hypot(*u1), math.hypot(*u2)) == 0:
            continue
        bis = u1 / math.hypot(*u1) + u2 / math.hypot(*u2)
        if math.hypot(*bis) < 1e-9:
            bis = np.array([-u1[1], u1[0]])
        bis = bis / math.hypot(*bis)
        depth = _deg(rng.uniform(15, 45))
        for sign in (1, -1):
            c = v + sign * bis * depth
            perp = np.array([-bis[1], bis[0]]) * depth * rng.uniform(0.15, 0.4)
            tri = shapely.Polygon([v, c + perp, c - perp])
            if not tri.is_valid or not tri.within(poly):
                continue
            touch = shapely.intersection(tri.boundary, poly.boundary)
            if touch.geom_type != "Point" or not touch.equals(shapely.Point(v)):
                continue
            cand = shapely.Polygon(poly.exterior.coords, [np.asarray(r.coords) for r in poly.interiors] + [np.asarray(tri.exterior.coords)])
            new = _rebuild(parts[:k] + [cand] + parts[k + 1:], geom)
            if cand.is_valid and new.is_valid:
                return new
    return geom


def _random_point_in(poly, rng, tries: int = 200):
    x0, y0, x1, y1 = poly.bounds
    for _ in range(tries):
        p = shapely.Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
        if poly.contains(p):
            return p
    return None


def add_exclave(geoms: list, rng, mode: str) -> list:
    """The first community gets a square exclave: cut out of another community (``neighbour``), or just
    outside every community (``detached``)."""
    side = _deg(rng.uniform(30, 60))
    square = lambda p: shapely.box(p.x - side / 2, p.y - side / 2, p.x + side / 2, p.y + side / 2)  # noqa: E731
    geoms = list(geoms)
    if mode == "neighbour" and len(geoms) > 1:
        j = int(rng.integers(1, len(geoms)))
        p = _random_point_in(shapely.buffer(geoms[j], -side, join_style="mitre"), rng)
        if p is not None:
            sq = square(p)
            geoms[j] = shapely.difference(geoms[j], sq)
            geoms[0] = shapely.MultiPolygon(_polygons(geoms[0]) + [sq])
            return geoms
    everything = shapely.union_all(geoms)
    ring = _polygons(geoms[0])[0].exterior
    c = shapely.centroid(geoms[0])
    for _ in range(60):
        q = ring.interpolate(rng.random(), normalized=True)
        d = np.array([q.x - c.x, q.y - c.y])
        if math.hypot(*d) == 0:
            continue
        d /= math.hypot(*d)
        at = np.array([q.x, q.y]) + d * (side * 0.75 + _deg(rng.uniform(5, 40)))
        sq = square(shapely.Point(at))
        if not sq.intersects(shapely.buffer(everything, _deg(2))):
            geoms[0] = shapely.MultiPolygon(_polygons(geoms[0]) + [sq])
            return geoms
    return geoms


def pinch(geom, rng):
    """Quarters of ``geom`` through an interior point c: (NE, SW, NW+SE), NE and SW touching only at c."""
    inner = shapely.buffer(geom, -_deg(25))
    p = _random_point_in(inner, rng) if not inner.is_empty else None
    if p is None:
        return None
    x0, y0, x1, y1 = geom.bounds
    x0, y0, x1, y1 = x0 - 1, y0 - 1, x1 + 1, y1 + 1
    q = {k: shapely.intersection(geom, shapely.box(*b)) for k, b in {
        "ne": (p.x, p.y, x1, y1), "sw": (x0, y0, p.x, p.y), "nw": (x0, p.y, p.x, y1), "se": (p.x, y0, x1, p.y)}.items()}
    q = {k: shapely.MultiPolygon([g for g in _polygons(v) if g.geom_type == "Polygon"]) for k, v in q.items()}
    q = {k: (v.geoms[0] if len(v.geoms) == 1 else v) for k, v in q.items()}
    rest = shapely.union(q["nw"], q["se"])
    if any(v.is_empty or not v.is_valid for v in q.values()) or not rest.is_valid:
        return None
    return q["ne"], q["sw"], rest


def _restore_winding(geom, clockwise: bool):
    return shapely.MultiPolygon([orient(p, -1.0 if clockwise else 1.0) for p in _polygons(geom)]) if geom.geom_type == "MultiPolygon" \
        else orient(geom, -1.0 if clockwise else 1.0)


# --- building an example -------------------------------------------------------------------------------

class Built(NamedTuple):
    communities: gpd.GeoDataFrame   # as handed to the engine (its CRS per case.crs)
    buildings: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame | None
    wgs84: tuple | None              # (communities, buildings) in WGS84, for the GCJ-02 comparison
    applied: dict                    # which perturbations took effect


def selection(case: Case) -> list[str]:
    """The anchor and its first n-1 neighbours, by code."""
    return [case.anchor] + neighbours(case.city)[case.anchor][: case.n - 1]


def _to_gcj(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Coordinates as a GCJ-02 web map would give them (declared, as such files are, as CRS84)."""
    return gdf.set_geometry(gpd.GeoSeries(webcoords.transform_geometries(gdf.geometry.values.to_numpy(), "wgs84", "gcj02"), crs=4326, index=gdf.index))


def _from_gcj(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return gdf.set_geometry(gpd.GeoSeries(webcoords.transform_geometries(gdf.geometry.values.to_numpy(), "gcj02", "wgs84"), crs=4326, index=gdf.index))


def _via_gcj02_file(gdf: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    """``gdf`` (WGS84) written as a web map would give it (GCJ-02 lon/lat in a CRS84 GeoJSON) and read back
    with ``read_vector(crs="gcj02")``, as ``gridplanner plan --crs gcj02`` reads it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.geojson"
        write_vector(_to_gcj(gdf), path)
        return read_vector(path, crs="gcj02")


def build(case: Case) -> Built:
    """The perturbed input of ``case`` (deterministic: the same case gives the same geometry)."""
    fx = fixture(case.city, case.source)
    rng = lambda k: np.random.default_rng([case.seed, k])  # noqa: E731  one stream per perturbation
    codes = selection(case)
    comm = fx["communities"]
    comm = comm[comm["code"].isin(codes)].copy()
    comm = comm.iloc[np.argsort([codes.index(c) for c in comm["code"]], kind="stable")].reset_index(drop=True)
    applied = {}
    geoms = list(comm.geometry.values)
    clockwise = [not p.exterior.is_ccw for p in (_polygons(g)[0] for g in geoms)]
    rows = comm.drop(columns="geometry").to_dict("records")

    if case.pinch:
        r = pinch(geoms[0], rng(1))
        if r is not None:
            ne, sw, rest = r
            base = rows[0]
            new_rows = [{**base}, {**base, "code": base["code"][:-3] + "900", "name": f"{base['name']} 西南"}]
            new_geoms = [ne, sw]
            if case.pinch == "three":
                new_rows.append({**base, "code": base["code"][:-3] + "901", "name": f"{base['name']} 西北东南"})
                new_geoms.append(rest)
            rows = new_rows + rows[1:]
            geoms = new_geoms + geoms[1:]
            clockwise = [clockwise[0]] * len(new_geoms) + clockwise[1:]
            applied["pinch"] = case.pinch
    if case.exclave:
        before = [g.wkb for g in geoms]
        geoms = add_exclave(geoms, rng(2), case.exclave)
        applied["exclave"] = [g.wkb for g in geoms] != before
    first = geoms[0]
    if case.hole:
        geoms[0] = add_touching_hole(geoms[0], rng(3))
    if case.spike:
        geoms[0] = add_spike(geoms[0], rng(4), case.spike)
    if case.sliver:
        geoms[0] = add_sliver(geoms[0], rng(5), case.sliver)
    applied["first_changed"] = not geoms[0].equals_exact(first, 0)
    for k in range(len(geoms)):
        if case.dup_vertices:
            geoms[k] = insert_duplicates(geoms[k], rng(100 + k), case.dup_vertices, case.near_dup)
        if case.collinear:
            geoms[k] = insert_collinear(geoms[k], rng(200 + k), case.collinear, case.collinear_eps)
        geoms[k] = _restore_winding(geoms[k], clockwise[k])
    assert all(g.is_valid for g in geoms), [shapely.is_valid_reason(g) for g in geoms]
    comm = gpd.GeoDataFrame(rows, geometry=geoms, crs=4326)
    region = shapely.union_all(geoms)

    # Buildings: every footprint touching the selection (those sticking out of it too).
    bld_all = fx["buildings"]
    bld = bld_all[bld_all.intersects(region)].copy().reset_index(drop=True)
    roads = None
    if case.roads:
        rd = fx["roads"]
        roads = rd[rd.intersects(shapely.buffer(region, _deg(20)))].reset_index(drop=True)
        if not len(roads):
            roads = None
    if case.straddle and len(bld):
        r = rng(6)
        lines = [ring for g in geoms for p in _polygons(g) for ring in [p.exterior, *p.interiors]]
        if roads is not None:
            lines += [shapely.intersection(l, shapely.buffer(region, _deg(5))) for l in roads.geometry.values]
            lines = [l for l in lines if not l.is_empty and l.length > 0]
        moved = r.choice(len(bld), size=min(case.straddle, len(bld)), replace=False)
        geo = bld.geometry.values.to_numpy().copy()
        for i in moved.tolist():
            line = lines[int(r.integers(0, len(lines)))]
            q = line.interpolate(r.random(), normalized=True)
            c = geo[i].centroid
            geo[i] = shapely.affinity.translate(geo[i], q.x - c.x, q.y - c.y)
        bld = bld.set_geometry(gpd.GeoSeries(geo, crs=bld.crs))
        applied["straddled"] = sorted(bld["id"].iloc[moved].tolist())
    if case.as_points and len(bld):
        r = rng(7)
        pick = r.random(len(bld)) < case.as_points
        geo = bld.geometry.values.to_numpy().copy()
        geo[pick] = shapely.point_on_surface(geo[pick])
        bld = bld.set_geometry(gpd.GeoSeries(geo, crs=bld.crs))
    if case.drop and len(bld):
        cols = ["floors"] + (["height"] if case.drop_what == "all" else [])
        cols = [c for c in cols if c in bld]
        if case.drop >= 1.0:
            bld = bld.drop(columns=cols)
        else:
            pick = rng(8).random(len(bld)) < case.drop
            for c in cols:
                bld[c] = bld[c].astype(float).where(~pick)
    if case.households and len(bld):
        r = rng(9)
        given = r.random(len(bld)) < case.households
        bld["households"] = pd.array(np.where(given, r.integers(1, 80, len(bld)), 0), dtype="Int64")
        bld.loc[~given, "households"] = pd.NA
    if case.empty:
        last = geoms[-1]
        bld = bld[~bld.intersects(last)].reset_index(drop=True)
        applied["empty"] = comm["code"].iat[-1]
    if case.outside:
        far = bld_all[~bld_all.intersects(shapely.buffer(region, _deg(50)))]
        extra = far.iloc[np.sort(rng(10).choice(len(far), size=3, replace=False))]
        bld = pd.concat([bld, extra], ignore_index=True)
    if not len(bld):
        # divide needs a buildings table: one point far outside (unplaced) stands for "no buildings".
        bld = gpd.GeoDataFrame({"id": [-1]}, geometry=[shapely.Point(region.bounds[0] - 0.05, region.bounds[1] - 0.05)], crs=4326)
    bld = gpd.GeoDataFrame(bld, geometry="geometry", crs=4326)

    wgs84 = None
    metric = METRIC[case.city]
    if case.crs == "gcj02":
        # Given in GCJ-02 (a web map's lon/lat, declared as CRS84 as such files are): read the project's way,
        # read_vector(crs="gcj02") (= gridplanner plan --crs gcj02), which converts to WGS84.
        wgs84 = (comm, bld)
        comm = _via_gcj02_file(comm, "communities")
        if case.bld_crs == "gcj02":
            bld = _via_gcj02_file(bld, "buildings")
    elif case.crs == "4490":
        comm = comm.set_crs(4490, allow_override=True)
    elif case.crs == "metric":
        comm = comm.to_crs(metric)
    if case.bld_crs == "metric":
        bld = bld.to_crs(metric)
    if roads is not None and case.crs == "metric":
        roads = roads.to_crs(metric)
    return Built(comm, bld, roads, wgs84, applied)


def run_divide(case: Case, built: Built | None = None):
    built = built or build(case)
    res = divide(built.communities, built.buildings, roads=built.roads, rules=SizeRule(*case.rule),
                 dissolve_duplicate_codes=case.source == "dirty")
    return built, res


def check_divide(case: Case):
    built, res = run_divide(case)
    assert_guarantees(res, built.communities, built.buildings)
    json.dumps(res.report, default=str)
    if built.wgs84 is not None:
        comm, bld = built.wgs84
        plain = divide(comm, bld, roads=built.roads, rules=SizeRule(*case.rule), dissolve_duplicate_codes=case.source == "dirty")
        assert_same_plan(res, plain, METRIC[case.city])
    return built, res


def assert_same_plan(a, b, metric: int, tolerance_m2: float = 0.05):
    """Two plans of the same input up to sub-millimetre coordinate noise: the same grids, the same figures,
    outlines apart by less than ``tolerance_m2`` each."""
    cols = ["community_code", "grid_index", "households", "buildings", "type"]
    assert a.grids[cols].reset_index(drop=True).equals(b.grids[cols].reset_index(drop=True)), (
        a.grids[cols].to_dict("records"), b.grids[cols].to_dict("records"))
    ga, gb = a.grids.to_crs(metric).geometry.values, b.grids.to_crs(metric).geometry.values
    diff = shapely.area(shapely.symmetric_difference(ga, gb))
    assert diff.max() <= tolerance_m2, diff.max()


# --- merge -----------------------------------------------------------------------------------------------

def merge_input(case: Case, built: Built):
    comm = built.communities
    if case.source == "dirty":
        # merge_layers refuses repeated codes: dissolve them first, as divide's dissolve_duplicate_codes does.
        comm = comm.dissolve(by="code", sort=False, as_index=False)[list(comm.columns)]
    region = shapely.union_all(comm.to_crs(4326).geometry.values)
    layers = {}
    for name, gdf in fixture(case.city)["departments"].items():
        layers[name] = gdf[gdf.intersects(shapely.buffer(region, _deg(5)))].reset_index(drop=True)
    return comm, layers


def assert_merge_guarantees(result, communities, buildings, code_field="code"):
    """The hard rules of a MergeResult (as tests/test_merging.py::assert_valid_coverage, plus footprints):
    grids valid single polygons tiling each community as merged into, in lon/lat and in metres; no building
    cut, every building in its community in exactly one grid; households add up."""
    grids = result.grids
    assert grids.crs.to_epsg() == 4490
    assert (shapely.get_type_id(grids.geometry.values) == 3).all(), "every grid is one Polygon"
    assert shapely.is_valid(grids.geometry.values).all()
    planned = result.communities
    given = communities.to_crs(4490)
    assert sorted(planned[code_field]) == sorted(given[code_field].astype(str))
    codes = list(planned[code_field])
    crs = CRS(result.report["crs"])
    # The communities as merged into are the ones given on the precision model (and, where the given
    # communities overlapped or left slivers, cleaned into a coverage).
    moved = {c["community_code"]: c["area_moved_m2"] for c in result.report["precision"]["changed"]}
    if not result.report.get("communities_cleaned"):
        gm, pm = given.to_crs(crs), planned.to_crs(crs)
        for code, geom in zip(gm[code_field].astype(str), gm.geometry.values):
            diff = shapely.area(shapely.symmetric_difference(geom, pm.geometry.values[codes.index(code)]))
            assert diff <= 2 * moved.get(code, 0.0) + 1e-3, (code, diff)
    for code in codes:
        mine = grids[grids["community_code"] == code]
        assert len(mine) >= 1, f"community {code} has no grid"
        assert sorted(mine["grid_index"]) == list(range(1, len(mine) + 1))
    region_of = np.array([codes.index(c) for c in grids["community_code"]], dtype=np.intp)
    bld = buildings.to_crs(4490).reset_index(drop=True)
    report = partition_report(grids.geometry.values, region_of, planned.geometry.values, crs, footprints=bld.geometry.values)
    assert report["ok"], report
    assert shapely.coverage_is_valid(grids.to_crs(crs).geometry.values)
    hh, _, _ = estimate_households(bld)
    placed = np.asarray([g >= 0 for g in _owners(bld, planned)])
    assert int(grids["households"].sum()) == int(hh[placed].sum())
    assert int(grids["buildings"].sum()) == int(placed.sum())
    json.dumps(result.report, default=str)
    return report


def _owners(bld, planned):
    from gis.coverage import majority_owner

    return majority_owner(bld.geometry.values, planned.geometry.values)


def check_merge(case: Case):
    built = build(case)
    comm, layers = merge_input(case, built)
    res = merge_layers(comm, layers, buildings=built.buildings, rules=SizeRule(*case.rule))
    assert_merge_guarantees(res, comm, built.buildings)
    return built, res


# --- the properties ---------------------------------------------------------------------------------------

@SETTINGS
@given(cases(buildings=False, crs=False))
def test_divide_keeps_the_rules_on_perturbed_outlines(case):
    """Duplicate and near-collinear vertices, 1e-9 deg spikes and slivers, touching holes, exclaves,
    communities touching at a point, Gusu's dirty communities."""
    check_divide(case)


@SETTINGS
@given(cases(outline=False, crs=False))
def test_divide_keeps_the_rules_on_perturbed_buildings(case):
    """Footprints on community lines and roads, points, missing attributes, an empty community, buildings
    outside every community, roads (or lines) to follow."""
    check_divide(case)


@SETTINGS
@given(cases(outline=False, buildings=False))
def test_divide_keeps_the_rules_in_every_crs(case):
    """Communities in EPSG:4490, in the metric CRS, or from GCJ-02 (converted back: the same plan as WGS84)."""
    check_divide(case)


@SETTINGS
@given(cases())
def test_divide_keeps_the_rules_on_everything_at_once(case):
    check_divide(case)


@settings(max_examples=max(1, EXAMPLES // 2), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(crs=True))
def test_merge_keeps_the_rules_on_perturbed_input(case):
    """merge_layers on the real department layers (with their planted defects), perturbed communities and
    buildings, the size rule applied."""
    check_merge(case)


# --- plain tests ------------------------------------------------------------------------------------------

def test_gcj02_files_are_read_back_to_the_real_coordinates():
    """What the gcj02 option relies on: GCJ-02 lon/lat written to a file and read with crs="gcj02" come back
    to the WGS84 coordinates (to 1e-9 deg), having been hundreds of metres off."""
    comm = fixture("gusu")["communities"]
    back = _via_gcj02_file(comm, "c")
    a = shapely.get_coordinates(comm.geometry.values)
    assert np.abs(shapely.get_coordinates(back.geometry.values) - a).max() < 1e-9
    assert np.abs(shapely.get_coordinates(_to_gcj(comm).geometry.values) - a).max() > 1e-3


def test_perturbations_take_effect():
    """The strategies' geometry really is what they say (else the properties test less than they claim)."""
    b = build(Case(city="gusu", anchor="320508017007", n=3, seed=1, hole=True, spike="out", exclave="neighbour"))
    first = b.communities.geometry.iat[0]
    assert first.geom_type == "MultiPolygon" and first.is_valid
    main = max(first.geoms, key=lambda p: p.area)
    assert len(main.interiors) == 1
    assert shapely.intersection(main.interiors[0], main.exterior).geom_type == "Point"
    assert b.applied["first_changed"] and b.applied["exclave"]
    p = build(Case(city="nanshan", anchor="440305001001", n=1, seed=3, pinch="three"))
    ne, sw, rest = p.communities.geometry.values
    assert shapely.intersection(ne, sw).geom_type == "Point"
    assert rest.geom_type == "MultiPolygon"
    e = build(Case(city="gusu", anchor="320508017003", n=2, seed=2, empty=True, straddle=5, as_points=0.5))
    assert not e.buildings.intersects(e.communities.geometry.iat[-1]).any()
    assert (e.buildings.geom_type == "Point").any()
