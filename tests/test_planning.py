"""Grid division: the hard guarantees on hand-made and hypothesis-generated communities, the size rule, errors."""

import os

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gis.crs import area_m2
from gis.errors import VectorInputError
from gridplanner.planning import SizeRule, divide, estimate_households
from test_planning_checks import assert_guarantees, same_result

LON0, LAT0 = 120.0, 30.0
M = 1e-5  # about a metre in degrees here; geometry below is drawn in metres


def geo(geom):
    """Metres around (LON0, LAT0) -> lon/lat."""
    return shapely.transform(geom, lambda xy: np.column_stack([LON0 + xy[:, 0] * M, LAT0 + xy[:, 1] * M]))


def frame(geoms, crs=4490, **cols):
    return gpd.GeoDataFrame(cols, geometry=[geo(g) for g in geoms], crs=crs)


def lattice_buildings(rng, box, step=40.0, size=(8.0, 25.0), keep=0.8, hh=(5, 60)):
    """Non-overlapping rectangles on a jittered lattice over ``box`` (some will cross its outline)."""
    x0, y0, x1, y1 = box
    out, households = [], []
    for x in np.arange(x0 - step / 2, x1 + step / 2, step):
        for y in np.arange(y0 - step / 2, y1 + step / 2, step):
            if rng.random() > keep:
                continue
            w, h = rng.uniform(*size), rng.uniform(*size)
            dx, dy = rng.uniform(0, step - w - 1), rng.uniform(0, step - h - 1)
            out.append(shapely.box(x + dx, y + dy, x + dx + w, y + dy + h))
            households.append(int(rng.integers(*hh)))
    return out, households


# --- SizeRule and households --------------------------------------------------------------------------

def test_size_rule_validates():
    with pytest.raises(ValueError, match="greater than max"):
        SizeRule(500, 300)
    with pytest.raises(ValueError, match="positive"):
        SizeRule(0, 300)
    with pytest.raises(ValueError, match="target"):
        SizeRule(300, 500, 600)
    assert SizeRule(300, 500).target == 400 and SizeRule(300, 500, 350).target == 350


def test_household_estimates_follow_the_documented_rule():
    fp = shapely.box(0, 0, 30, 30)  # 900 m2
    b = frame([fp] * 5, households=[40, None, None, None, None], population=[None, 280, None, None, None],
              floors=[None, None, 6, 6, None], use=["residential", None, "residential", "office", None])
    hh, pop, summary = estimate_households(b)
    footprint = area_m2(b.geometry.iloc[:1])[0]
    assert 800 < footprint < 1100
    # 280 / 2.8; 6 floors x footprint / 90 m2; an office gets no estimate
    assert hh.tolist()[:4] == [40, 100, round(6 * footprint / 90), 0]
    assert hh[4] == 0 and summary["households_unknown_set_to_0"] == 2
    assert pop.tolist()[:2] == [112, 280]
    assert summary["households_from_population"] == 1 and summary["households_from_floor_area"] == 1


# --- hand-made cases ------------------------------------------------------------------------------------

def test_roads_split_and_grids_within_bounds():
    rng = np.random.default_rng(7)
    comm = frame([shapely.box(0, 0, 1000, 800)], code=["c1"])
    blds, hh = lattice_buildings(rng, (0, 0, 1000, 800))
    roads = frame([shapely.LineString([(500, -50), (500, 850)]), shapely.LineString([(-50, 400), (1050, 410)])])
    b = frame(blds, households=hh)
    res = divide(comm, b, roads=roads, rules=SizeRule(300, 500))
    assert_guarantees(res, comm, b)
    basic = res.grids[res.grids["type"] == "basic"]
    assert (basic["households"].between(300, 500)).mean() >= 0.9
    # The roads are grid boundaries: no grid crosses them (a building straddling one may bend it locally).
    road_union = shapely.union_all(roads.geometry.values)
    crossing = [g for g in res.grids.geometry.values if shapely.intersection(g.buffer(-5 * M), road_union).length > 60 * M]
    assert not crossing


def test_dedicated_area_becomes_its_own_grid_with_its_buildings():
    comm = frame([shapely.box(0, 0, 400, 400)], code=["c1"])
    school = shapely.box(100, 100, 250, 250)
    blds = [shapely.box(120, 120, 150, 150), shapely.box(20, 20, 40, 40), shapely.box(300, 300, 330, 330),
            shapely.box(240, 150, 270, 170)]  # the last straddles the school's edge, mostly outside
    b = frame(blds, households=[0, 200, 200, 50])
    ded = frame([school], kind=["school"])
    res = divide(comm, b, dedicated=ded, rules=SizeRule(100, 500))
    assert_guarantees(res, comm, b)
    d = res.grids[res.grids["type"] == "dedicated"]
    assert len(d) == 1 and d["dedicated_kind"].iat[0] == "school" and d["buildings"].iat[0] == 1
    assert not any(o["grid_index"] == d["grid_index"].iat[0] for o in res.report["out_of_bounds"])


def test_small_community_is_one_grid_and_reported():
    comm = frame([shapely.box(0, 0, 300, 300)], code=["c1"])
    b = frame([shapely.box(10, 10, 30, 30), shapely.box(200, 200, 230, 220)], households=[50, 60])
    res = divide(comm, b, roads=frame([shapely.LineString([(150, -10), (150, 310)])]))
    assert_guarantees(res, comm, b)
    assert len(res.grids) == 1
    assert res.report["out_of_bounds"][0]["reason"] == "community has fewer than min households"


def test_single_huge_building_is_its_own_grid():
    rng = np.random.default_rng(3)
    comm = frame([shapely.box(0, 0, 600, 600)], code=["c1"])
    blds, hh = lattice_buildings(rng, (0, 0, 600, 600), step=60, size=(10, 20), hh=(20, 40))
    blds = [g for g in blds if not g.intersects(shapely.box(250, 250, 350, 350))] + [shapely.box(260, 260, 340, 340)]
    hh = hh[: len(blds) - 1] + [2000]
    b = frame(blds, households=hh)
    res = divide(comm, b)
    assert_guarantees(res, comm, b)
    big = res.grids[res.grids["households"] == 2000]
    assert len(big) == 1 and big["buildings"].iat[0] == 1
    reasons = {o["reason"] for o in res.report["out_of_bounds"] if o["households"] == 2000}
    assert reasons == {"a single building above max households"}


def test_building_outside_every_community_is_listed_not_dropped():
    comm = frame([shapely.box(0, 0, 100, 100)], code=["c1"])
    b = frame([shapely.box(10, 10, 20, 20), shapely.box(500, 500, 510, 510)], households=[10, 20], id=["b1", "b2"])
    res = divide(comm, b)
    assert res.report["unplaced"] == [{"building": "b2", "index": 1}]
    assert res.grids["households"].sum() == 10


def test_building_crossing_community_boundary_is_clipped_and_listed():
    comm = frame([shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)], code=["a", "b"])
    b = frame([shapely.box(80, 40, 110, 60)], households=[10])
    res = divide(comm, b)
    assert_guarantees(res, comm, b)
    [cross] = res.report["crossing_community_boundary"]
    assert cross["community_code"] == "a" and 0.6 < cross["share_inside"] < 0.7


def test_points_are_fine_and_rules_by_class():
    rng = np.random.default_rng(5)
    comm = frame([shapely.box(0, 0, 500, 500), shapely.box(500, 0, 1000, 500)], code=["u", "r"], **{"class": ["urban", "rural"]})
    pts = [shapely.Point(x, y) for x, y in rng.uniform(1, 999, (400, 2)) if y < 499]
    b = frame(pts, households=rng.integers(5, 15, len(pts)).tolist())
    rules = {"urban": SizeRule(300, 500), "rural": SizeRule(100, 200)}
    res = divide(comm, b, rules=rules)
    assert_guarantees(res, comm, b)
    per = {c["community_code"]: c for c in res.report["communities"]}
    assert per["r"]["max"] == 200 and per["u"]["max"] == 500
    assert per["r"]["grids"] > per["u"]["grids"]


def test_bad_input_errors_name_the_feature_and_the_way_on():
    comm = frame([shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)], code=["a", "a"], name=["兴浦社区", "金胜社区"])
    b = frame([shapely.box(10, 10, 20, 20)], households=[1])
    with pytest.raises(VectorInputError, match=r"communities.geojson: feature 0 \(a 兴浦社区\): code a is shared by features 0 \(兴浦社区\), 1 \(金胜社区\); their names differ") as exc:
        divide(comm, b, sources={"communities": "communities.geojson"})
    assert exc.value.problems[0].feature == 0
    same = comm.assign(name=["兴浦社区", "兴浦社区"])
    with pytest.raises(VectorInputError, match="--dissolve-duplicate-codes joins them; otherwise"):
        divide(same, b)
    with pytest.raises(VectorInputError, match="no 'zone' field"):
        divide(comm, b, code_field="zone")
    with pytest.raises(VectorInputError, match="no CRS"):
        divide(gpd.GeoDataFrame({"code": ["a"]}, geometry=[shapely.box(0, 0, 1, 1)]), b)
    with pytest.raises(VectorInputError, match=r"feature 1 \(金胜社区\): has no code"):
        divide(comm.assign(code=["a", None]), b)


def test_duplicate_codes_dissolved_on_request():
    comm = frame([shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)], code=["a", "a"], name=["x", "x"])
    b = frame([shapely.box(10, 10, 20, 20), shapely.box(150, 10, 160, 20)], households=[100, 100])
    res = divide(comm, b, dissolve_duplicate_codes=True)
    assert res.report["precision"]["dissolved_duplicate_codes"] == [{"code": "a", "features": [0, 1], "names": ["x"]}]
    assert len(res.grids) == 1 and res.grids["households"].sum() == 200
    assert res.report["summary"]["communities"] == 1


# --- hypothesis: the guarantees on many shapes ------------------------------------------------------

def generated_case(kind, w, h, seed, keep, huge_households=None, touching=False, roads=(), missing=False):
    """One community with buildings and roads, drawn in metres: ``kind`` of outline, ``seed`` for the
    building lattice (``keep`` = share of lattice places built), an optional huge building, an optional
    building touching the outline, one road per entry of ``roads`` (True: crossing south to north, else west
    to east), ``missing``: every third building's households left out (estimated from population)."""
    if kind == "box":
        region = shapely.box(0, 0, w, h)
    elif kind == "concave":
        region = shapely.box(0, 0, w, h).difference(shapely.box(w * 0.4, h * 0.3, w + 1, h * 0.7))
    elif kind == "holes":
        region = shapely.box(0, 0, w, h).difference(shapely.box(w * 0.3, h * 0.3, w * 0.5, h * 0.6)).difference(
            shapely.Point(w * 0.75, h * 0.5).buffer(min(w, h) * 0.1))
    elif kind == "multipart":
        region = shapely.MultiPolygon([shapely.box(0, 0, w * 0.45, h), shapely.box(w * 0.55, 0, w, h * 0.6)])
    else:
        region = shapely.box(0, 0, w, 40)
        h = 40
    rng = np.random.default_rng(seed)
    blds, hh = lattice_buildings(rng, (0, 0, w, h), step=35, size=(6, 22), keep=keep, hh=(1, 40))
    if huge_households is not None:
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        huge = shapely.box(cx - 15, cy - 10, cx + 15, cy + 10)
        keep_idx = [i for i, g in enumerate(blds) if not g.intersects(huge.buffer(1))]
        blds = [blds[i] for i in keep_idx] + [huge]
        hh = [hh[i] for i in keep_idx] + [huge_households]
    if touching and blds:
        blds.append(shapely.box(0, h * 0.2, 12, h * 0.2 + 10))
        hh.append(7)
    lines = []
    for crossing in roads:
        a = rng.uniform(0, 1, 2) * [w, h]
        b = rng.uniform(0, 1, 2) * [w, h]
        if crossing:
            lines.append(shapely.LineString([(a[0], -20), (b[0], h + 20)]))  # crosses, straddles buildings
        else:
            lines.append(shapely.LineString([(-20, a[1]), (w + 20, b[1])]))
    return region, blds, hh, lines, missing


@st.composite
def communities_with_buildings(draw):
    kind = draw(st.sampled_from(["box", "concave", "holes", "multipart", "thin"]))
    w = draw(st.floats(200, 900))
    h = draw(st.floats(200, 900))
    seed = draw(st.integers(0, 2**16))
    keep = draw(st.sampled_from([0.0, 0.3, 0.9]))
    huge = draw(st.one_of(st.none(), st.integers(100, 3000)))
    touching = draw(st.booleans())
    roads = draw(st.lists(st.booleans(), max_size=3))
    missing = draw(st.booleans())
    # The parameters, not the geometry: a failing example is then printed in a form that can be replayed.
    return (kind, w, h, seed, keep, huge, touching, roads, missing)


# Random generation (not derandomized): each run explores new cases; a failure prints its seed to replay
# with --hypothesis-seed=N. Cases found this way are kept below as explicit regression tests.
@settings(max_examples=int(os.environ.get("PLANNING_EXAMPLES", 30)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(communities_with_buildings(), st.sampled_from([(30, 60), (50, 120), (300, 500)]))
def test_guarantees_hold_on_generated_communities(case, bounds):
    check_generated(generated_case(*case), bounds)


def check_generated(case, bounds):
    region, blds, hh, roads, missing = case
    comm = frame([region], code=["g1"])
    cols = {"households": [None if missing and i % 3 == 0 else v for i, v in enumerate(hh)],
            "population": [v * 3 for v in hh]}
    b = frame(blds, **cols) if blds else frame([shapely.Point(-1e4, -1e4)], households=[1])
    r = frame(roads) if roads else None
    rule = SizeRule(*bounds)
    res = divide(comm, b, roads=r, rules=rule)
    assert_guarantees(res, comm, b)
    # Multipart communities: every part has its own grids.
    for part in shapely.get_parts(geo(region)):
        assert any(g.representative_point().within(part) for g in res.grids.geometry.values)
    same_result(res, divide(comm, b, roads=r, rules=rule))


def test_nearly_coincident_cuts_leave_no_gap():
    """Found by hypothesis (seed 25): two bisection cuts 1e-17 degrees apart made a zero-width spike; the
    spiky face's point_on_surface fell on the community outline, so the face was dropped as outside the
    community (a gap) and 3 buildings ended up outside their grid."""
    case = generated_case("box", 841.0, 841.0, seed=9949, keep=0.3, roads=[True], missing=True)
    check_generated(case, (30, 60))


def test_rebalance_takes_two_grids_a_hair_apart_as_one_piece():
    """Before the final settling, neighbouring grids' lines need not be noded alike (a vertex of one on the
    other's edge); GEOS's coverage union then returns the two polygons apart (Shenzhen Nanshan 440305001001:
    20 of the 30 redraws tried were refused as "not one piece"). The redraw's union is one polygon."""
    from gridplanner.planning.rebalance import _union

    a = shapely.Polygon([(0, 0), (1, 0), (1, 0.5), (1, 1), (0, 1)])
    b = shapely.box(1, 0, 2, 1)
    assert shapely.get_type_id(shapely.coverage_union_all([a, b])) == 6
    union = _union(np.array([a, b], dtype=object))
    assert union.geom_type == "Polygon" and abs(union.area - 2) < 1e-8


def test_balance_brings_two_grids_within_bounds_nearer_the_target():
    # Two neighbouring grids of 480 and 320 households, both within [300, 500]: the engine evens them out
    # (building by building, footprints whole); the merge (even=False) leaves grids within bounds alone.
    from gridplanner.planning.bisect import LocalFrame
    from gridplanner.planning.community import CommunityInput, rebalance_grids

    left, right = geo(shapely.box(0, 0, 100, 100)), geo(shapely.box(100, 0, 200, 100))
    boxes = [shapely.box(x + 3, y + 3, x + 13, y + 13) for x in range(0, 200, 20) for y in range(0, 100, 20)]
    boxes = [b for b in boxes if b.bounds[0] < 100] + [b for b in boxes if b.bounds[0] > 100][:14]  # 25 + 14
    foot = np.array([geo(b) for b in boxes], dtype=object)
    hh = np.array([19] * 25 + [23] * 14)  # 475 and 322
    data = CommunityInput(region=shapely.union(left, right), footprints=foot, points=shapely.point_on_surface(foot),
                          households=hh, lines=np.zeros(0, dtype=object))
    members = [np.arange(25), np.arange(25, 39)]
    rule = SizeRule(300, 500)
    lf = LocalFrame(LON0 + 100 * M, LAT0 + 50 * M)
    same_geoms, _ = rebalance_grids([left, right], np.array([True, True]), members, data, rule, lf)
    assert same_geoms[0] is left and same_geoms[1] is right
    geoms, new_members = rebalance_grids([left, right], np.array([True, True]), members, data, rule, lf, even=True)
    sums = [int(hh[m].sum()) for m in new_members]
    assert all(rule.within(s) for s in sums) and sum(sums) == 797
    assert abs(sums[0] - 400) + abs(sums[1] - 400) < 75 + 78 - 40, sums
    assert shapely.coverage_is_valid(np.array(geoms, dtype=object))
    assert abs(shapely.union_all(geoms).area - data.region.area) < 1e-15
    for k, m in enumerate(new_members):
        assert shapely.covered_by(foot[m], geoms[k]).all()
