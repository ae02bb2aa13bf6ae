"""The sample district 示范区 (330106): three streets, one town, 20–40 communities, buildings, roads, a river."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from gridplanner.sampledata import names as N
from gridplanner.sampledata.shapes import edge_neighbours, rng_for, rotated_rectangles, spread_seeds
from gridplanner.sampledata.world import (
    PERSONS_PER_HOUSEHOLD,
    BuildingSpec,
    TownshipPlan,
    atoms_in_outline,
    barriers,
    build_rivers,
    build_roads,
    candidate_slots,
    centre_xy,
    community_frame,
    dedicated_buildings,
    grow_communities,
    hamlet_weights,
    local_crs,
    make_exclave,
    pick_in_order,
    place_dedicated,
    residential_attributes,
    territory,
)

DISTRICT_CODE = "330106"
DISTRICT_NAME = "示范区"
CENTRE = (120.10, 30.27)
STREETS = [("001", "文华街道"), ("002", "翠湖街道"), ("003", "灵溪街道")]
TOWN = ("101", "溪源镇")
#: Household totals per community at scale 1 (urban 居委会, rural 村委会), kept inside 1,500–5,000 and 200–800
#: with room for the ~5% of buildings whose households are withheld.
URBAN_HOUSEHOLDS = (1900, 4800)
RURAL_HOUSEHOLDS = (260, 780)
#: Mean community area at scale 1, km².
URBAN_KM2, RURAL_KM2 = 0.6, 2.4
DEDICATED_PLAN = ["school", "school", "school", "hospital", "hospital", "park", "park", "industrial_park",
                  "industrial_park", "market", "market", "government"]
#: The deliberate exceptions to "buildings never cross a road or a community boundary".
ROAD_STRADDLER_ID = "BX0001"
BOUNDARY_CROSSER_ID = "BX0002"
MISSING_HOUSEHOLDS_SHARE = 0.05


def district_plans(n_communities: int, half_w: float, half_h: float) -> list[TownshipPlan]:
    """Three streets in the west and centre, the town in the east; 20–25% of communities are villages."""
    if n_communities < 4:
        raise ValueError(f"n_communities must be at least 4 (3 streets and a town), got {n_communities}")
    n_rural = int(np.clip(round(n_communities * 0.23), 1, n_communities - 3))
    n_urban = n_communities - n_rural
    per_street = [n_urban // 3 + (1 if i < n_urban % 3 else 0) for i in range(3)]
    if max(per_street) > 199 or n_rural > 199:
        raise ValueError(f"n_communities {n_communities} does not fit the 3-digit community segments "
                         "(at most 199 居委会 per street and 199 村委会 in the town)")
    anchors = [(-0.65 * half_w, 0.45 * half_h), (-0.65 * half_w, -0.45 * half_h), (-0.05 * half_w, 0.0)]
    plans = [
        TownshipPlan(DISTRICT_CODE, DISTRICT_NAME, code, name, False, k, anchor, k * URBAN_KM2)
        for (code, name), k, anchor in zip(STREETS, per_street, anchors)
    ]
    plans.append(TownshipPlan(DISTRICT_CODE, DISTRICT_NAME, TOWN[0], TOWN[1], True, n_rural, (0.7 * half_w, 0.0),
                              n_rural * RURAL_KM2))
    return plans


def build_district(seed: int, n_communities: int, scale: float) -> dict:
    """The district in metres (local Gauss–Krüger CRS): communities, roads, rivers, dedicated, buildings."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    crs = local_crs(CENTRE[0])
    centre = centre_xy(crs, *CENTRE)
    n_rural_guess = int(np.clip(round(n_communities * 0.23), 1, max(n_communities - 3, 1)))
    area_m2 = ((n_communities - n_rural_guess) * URBAN_KM2 + n_rural_guess * RURAL_KM2) * 1e6 * scale
    half_w = np.sqrt(area_m2 * 1.25 / np.pi)
    half_h = half_w / 1.25
    plans = district_plans(n_communities, half_w, half_h)

    rng = rng_for(seed, "communities")
    spacing = max(np.sqrt(area_m2 / (n_communities * 40)), 40.0)
    pts, cells, members = atoms_in_outline(rng, centre, half_w, half_h, spacing)
    neighbours = edge_neighbours(cells)
    town, community = grow_communities(rng, pts, cells, members, neighbours, plans, centre)
    street_atoms = np.isin(town, [i for i, p in enumerate(plans) if not p.rural])
    # Villages get unique township labels so the exclave is made between two urban communities.
    make_exclave(rng, community, np.where(street_atoms, town, -2 - np.arange(len(town))), neighbours)
    communities = community_frame(rng, cells, community, town, plans, crs)
    outline = territory(communities)

    rng = rng_for(seed, "roads")
    urban = shapely.coverage_union_all(communities.geometry.values[(communities["class"] == "urban").to_numpy()])
    roads = build_roads(rng, outline, urban, major_step=2000.0 * np.sqrt(scale), local_step=220.0, crs=crs)
    rivers = build_rivers(rng_for(seed, "rivers"), outline, 1, crs)
    blocked = barriers(roads, rivers)

    rng = rng_for(seed, "dedicated")
    slots = candidate_slots(rng, communities, roads, rivers, BuildingSpec())
    dedicated = place_dedicated(rng, communities, slots, DEDICATED_PLAN, blocked)
    if len(dedicated):
        hit = STRtree(dedicated.geometry.buffer(5).values).query(slots.geometry, predicate="intersects")[0]
        keep = np.setdiff1d(np.arange(len(slots.x)), hit)
        for name in ("geometry", "owner", "x", "y", "area", "rural", "tower"):
            setattr(slots, name, getattr(slots, name)[keep])
    buildings = _choose_buildings(rng_for(seed, "buildings"), communities, slots, scale)
    site_buildings = dedicated_buildings(rng_for(seed, "dedicated-buildings"), dedicated)
    buildings = _with_exceptions(rng_for(seed, "exceptions"), buildings, site_buildings, communities, roads, dedicated)
    return {"crs": crs, "communities": communities, "roads": roads, "rivers": rivers, "dedicated": dedicated,
            "buildings": buildings}


def _choose_buildings(rng: np.random.Generator, communities: gpd.GeoDataFrame, slots, scale: float) -> gpd.GeoDataFrame:
    """Residential and a few commercial buildings per community until its household target is met."""
    n = len(communities)
    rural = (communities["class"] == "rural").to_numpy()
    target = np.where(rural, rng.uniform(*RURAL_HOUSEHOLDS, n), rng.uniform(*URBAN_HOUSEHOLDS, n)) * scale
    floors, households = residential_attributes(rng, slots.area, slots.rural, slots.tower)
    commercial = ~slots.rural & (rng.random(len(floors)) < 0.05)
    households = np.where(commercial, 0, households)
    weight = np.where(slots.rural, hamlet_weights(rng, slots, n), 1.0)
    key = rng.random(len(weight)) ** (1.0 / weight)  # weighted order without replacement (Efraimidis–Spirakis)
    chosen = pick_in_order(slots.owner, key, households, target)
    frame = gpd.GeoDataFrame(
        {
            "households": households[chosen],
            "floors": np.where(commercial[chosen], rng.integers(2, 6, len(chosen)), floors[chosen]),
            "use": np.where(commercial[chosen], "commercial", "residential"),
            "owner": slots.owner[chosen],
        },
        geometry=slots.geometry[chosen],
        crs=communities.crs,
    )
    frame["name"] = _building_names(rng, frame, communities)
    return frame


def _building_names(rng: np.random.Generator, frame: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> list[str]:
    """Urban buildings take the name of the nearest of a few estates (XX苑3幢); village houses a number (周家村12号)."""
    names = np.empty(len(frame), dtype=object)
    cent = shapely.centroid(frame.geometry.values)
    x, y = shapely.get_x(cent), shapely.get_y(cent)
    taken: set[str] = set()
    for c in range(len(communities)):
        mine = np.flatnonzero(frame["owner"].to_numpy() == c)
        if not len(mine):
            continue
        mine = mine[np.lexsort((x[mine], -np.round(y[mine], -1)))]  # north to south, west to east
        if communities["class"].iat[c] == "rural":
            base = communities["name"].iat[c]
            names[mine] = [f"{base}{i + 1}号" for i in range(len(mine))]
            continue
        k = int(np.clip(round(len(mine) / 15), 1, 6))
        centres = mine[spread_seeds(rng, np.column_stack([x[mine], y[mine]]), k)]
        nearest = np.argmin((x[mine, None] - x[centres]) ** 2 + (y[mine, None] - y[centres]) ** 2, axis=1)
        estates = N.unique_names(rng, N.PLACE_FIRST, N.ESTATE_SUFFIX, k, taken=taken)
        counter = np.zeros(k, int)
        for row, e in zip(mine, nearest):
            counter[e] += 1
            kind = "商业楼" if frame["use"].iat[row] == "commercial" else "幢"
            names[row] = f"{estates[e]}{counter[e]}{kind}"
    return list(names)


def _with_exceptions(rng: np.random.Generator, buildings: gpd.GeoDataFrame, site_buildings: gpd.GeoDataFrame,
                     communities: gpd.GeoDataFrame, roads: gpd.GeoDataFrame,
                     dedicated: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """All buildings with ids, population and withheld households, plus the two deliberate exceptions."""
    site = gpd.GeoDataFrame({"households": 0, "floors": rng.integers(2, 7, len(site_buildings)),
                             "use": site_buildings["use"].to_numpy(), "owner": -1, "name": site_buildings["name"].to_numpy()},
                            geometry=site_buildings.geometry.values, crs=buildings.crs)
    frame = pd.concat([buildings, site], ignore_index=True)
    urban = communities.geometry.values[(communities["class"] == "urban").to_numpy()]
    avoid = shapely.union_all(np.concatenate([shapely.buffer(dedicated.geometry.values, 20),
                                              shapely.buffer(roads.geometry.values[(roads["kind"] != "支路").to_numpy()], 40)]))
    boundary = shapely.union_all(shapely.boundary(urban))
    local = roads.geometry.values[(roads["kind"] == "支路").to_numpy()]
    others = shapely.union_all(roads.geometry.values)
    extra = []
    # 1) 过街楼: a building bridging a local street, inside one community.
    for line in rng.permutation(local):
        p = shapely.line_interpolate_point(line, 0.5, normalized=True)
        inner = [g for g in urban if shapely.contains_properly(shapely.buffer(g, -60), p)]
        if not inner or shapely.intersects(avoid, shapely.buffer(p, 30)):
            continue
        ends = shapely.get_coordinates(line)[[0, -1]]
        if shapely.length(shapely.intersection(others, shapely.buffer(p, 35))) > 75:
            continue  # a junction nearby; keep it simple, one road under the building
        along = np.arctan2(ends[1, 1] - ends[0, 1], ends[1, 0] - ends[0, 0])
        rect = rotated_rectangles(np.array([p.x]), np.array([p.y]), np.array([40.0]), np.array([16.0]),
                                  np.array([along + np.pi / 2]))[0]
        extra.append((ROAD_STRADDLER_ID, rect, 24, 6, "过街楼"))
        break
    # 2) a building drawn across the boundary of two urban communities.
    for g in rng.permutation(urban):
        ring = shapely.intersection(shapely.boundary(g), boundary.difference(shapely.boundary(shapely.coverage_union_all(urban))))
        if ring.is_empty:
            continue
        for t in rng.uniform(0.1, 0.9, 10):
            p = shapely.line_interpolate_point(shapely.get_parts(ring)[0], t, normalized=True)
            if shapely.intersects(avoid, shapely.buffer(p, 30)) or shapely.distance(others, p) < 30:
                continue
            rect = rotated_rectangles(np.array([p.x]), np.array([p.y]), np.array([32.0]), np.array([16.0]),
                                      np.array([rng.uniform(0, np.pi)]))[0]
            extra.append((BOUNDARY_CROSSER_ID, rect, 36, 9, "跨界楼"))
            break
        if len(extra) == 2:
            break
    if extra:
        clear = shapely.buffer(np.array([e[1] for e in extra]), 4)
        hit = STRtree(frame.geometry.values).query(clear, predicate="intersects")[1]
        frame = frame.drop(index=np.unique(hit)).reset_index(drop=True)
    frame = _number(frame, communities)
    households = frame["households"].astype("Int64")
    population = pd.array(np.round(households.to_numpy(float) * rng.uniform(*PERSONS_PER_HOUSEHOLD, len(frame))),
                          dtype="Int64")
    residential = np.flatnonzero((frame["use"] == "residential").to_numpy())
    withheld = rng.choice(residential, int(round(len(residential) * MISSING_HOUSEHOLDS_SHARE)), replace=False)
    households[withheld] = pd.NA
    # Half of the withheld keep their population (the planner can divide by ~2.8), half must use floors x area.
    population[withheld[: len(withheld) // 2]] = pd.NA
    frame["households"] = households
    frame["population"] = population
    if extra:
        ex = gpd.GeoDataFrame({"building_id": [e[0] for e in extra], "households": pd.array([e[2] for e in extra], dtype="Int64"),
                               "population": pd.array([round(e[2] * 2.8) for e in extra], dtype="Int64"),
                               "floors": [e[3] for e in extra], "use": "residential", "name": [e[4] for e in extra]},
                              geometry=[e[1] for e in extra], crs=frame.crs)
        frame = pd.concat([frame, ex], ignore_index=True)
    frame["floors"] = frame["floors"].astype(int)
    return frame[["building_id", "households", "population", "floors", "use", "name", "geometry"]]


def _number(frame: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Ids B000001... in order of community code, then north to south, west to east."""
    cent = shapely.centroid(frame.geometry.values)
    idx = STRtree(communities.geometry.values).query(cent, predicate="within")
    code = np.full(len(frame), "~", dtype=object)
    code[idx[0]] = communities["code"].to_numpy()[idx[1]]
    order = np.lexsort((shapely.get_x(cent), -np.round(shapely.get_y(cent), -1), code.astype(str)))
    frame = frame.iloc[order].reset_index(drop=True)
    frame["building_id"] = [f"B{i + 1:06d}" for i in range(len(frame))]
    return frame


def generate_district(seed: int = 20261122, n_communities: int = 30, *,
                      scale: float = 1.0) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """The synthetic sample district 示范区 (330106), in EPSG:4490; same seed, same data.

    Keys: communities, buildings, roads, rivers, dedicated (GeoDataFrames); dept_综治, dept_城管, dept_党建
    (department layers with planted defects, listed in each frame's ``attrs["defects"]`` where they have
    ids); staff and incidents (DataFrames; incidents carry WGS84 lon/lat). ``scale`` multiplies area,
    households, buildings and incidents (1.0 gives the realistic magnitudes; 0.2 is handy for quick tests).
    """
    from gridplanner.sampledata.departments import (
        chengguan_layer,
        dangjian_layer,
        department_households,
        zongzhi_layer,
    )
    from gridplanner.sampledata.tables import incident_table, staff_table
    from gridplanner.sampledata.world import to_storage_rounded

    world = build_district(seed, n_communities, scale)
    communities, buildings = world["communities"], world["buildings"]
    outline = territory(communities)
    households = department_households(communities, buildings)
    zongzhi = zongzhi_layer(rng_for(seed, "dept-综治"), communities, households)
    chengguan = chengguan_layer(rng_for(seed, "dept-城管"), communities, outline)
    dangjian = dangjian_layer(rng_for(seed, "dept-党建"), communities, households)
    staff = staff_table(rng_for(seed, "staff"), communities, households)
    incidents = incident_table(rng_for(seed, "incidents"), buildings, world["roads"], outline,
                               max(int(round(2000 * scale)), 20))
    out: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {
        "communities": to_storage_rounded(communities),
        "buildings": to_storage_rounded(buildings),
        "roads": to_storage_rounded(world["roads"]),
        "rivers": to_storage_rounded(world["rivers"]),
        "dedicated": to_storage_rounded(world["dedicated"]),
        "dept_综治": to_storage_rounded(zongzhi),
        "dept_城管": to_storage_rounded(chengguan),
        "dept_党建": to_storage_rounded(dangjian),
        "staff": staff,
        "incidents": incidents,
    }
    out["buildings"].attrs["exceptions"] = {
        bid: why for bid, why in ((ROAD_STRADDLER_ID, "straddles a local street (过街楼)"),
                                  (BOUNDARY_CROSSER_ID, "crosses the boundary of two communities"))
        if bid in set(buildings["building_id"])
    }
    out["dept_综治"].attrs["defects"] = dict(zongzhi.attrs.get("defects", {}))
    return out
