"""A synthetic city for benchmarks: ~1,000 communities and ~300,000 buildings, built with array operations."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from gridplanner.sampledata import names as N
from gridplanner.sampledata.shapes import edge_neighbours, rng_for, spread_seeds
from gridplanner.sampledata.world import (
    DEDICATED_KINDS,
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
    grow_communities,
    hamlet_weights,
    local_crs,
    place_dedicated,
    residential_attributes,
    territory,
    to_storage_rounded,
)

CITY_CENTRE = (120.20, 30.25)
CITY_PREFIX = "3301"  # prefecture part of the county codes; county parts 02, 03, ... (districts 01–20)
COMMUNITIES_PER_TOWNSHIP = 20
TOWNSHIPS_PER_DISTRICT = 12
URBAN_KM2, RURAL_KM2 = 0.5, 2.0
RURAL_TOWNSHIP_SHARE = 0.3
HOUSES_PER_VILLAGE = 330


def generate_city(n_communities: int = 1000, n_buildings: int = 300_000, seed: int = 7) -> dict[str, gpd.GeoDataFrame]:
    """A synthetic city in EPSG:4490 for benchmarks: communities, buildings, roads, rivers, dedicated.

    The inner ring of townships are streets with urban communities, the outer ring towns with villages;
    county codes run 330102, 330103, ... with about a dozen townships each. Exactly ``n_buildings`` buildings
    when the lattice has room (it is sized for about twice that); a share of urban ones are low-rise.
    """
    if n_communities < 2 or n_buildings < 1:
        raise ValueError("need at least 2 communities and 1 building")
    crs = local_crs(CITY_CENTRE[0])
    centre = centre_xy(crs, *CITY_CENTRE)
    rng = rng_for(seed, "city-communities")
    n_town = max(2, int(np.ceil(n_communities / COMMUNITIES_PER_TOWNSHIP)))
    n_rural_town = max(1, int(round(n_town * RURAL_TOWNSHIP_SHARE)))
    # Townships get about equal areas; a town holds a quarter as many (bigger) communities as a street.
    density = np.array([1 / URBAN_KM2] * (n_town - n_rural_town) + [1 / RURAL_KM2] * n_rural_town)
    counts = _apportion(n_communities, density, minimum=1)
    area_m2 = float((counts / density).sum()) * 1e6
    half_w = np.sqrt(area_m2 * 1.15 / np.pi)
    half_h = half_w / 1.15
    spacing = np.sqrt(area_m2 / (n_communities * 8))
    pts, cells, members = atoms_in_outline(rng, centre, half_w, half_h, spacing)
    neighbours = edge_neighbours(cells)
    anchors = pts[members[spread_seeds(rng, pts[members], n_town)]] - np.array(centre)
    # Outermost townships are the rural towns; count slots follow the same order (urban first).
    by_radius = np.argsort(np.hypot(anchors[:, 0] / half_w, anchors[:, 1] / half_h), kind="stable")
    anchors = anchors[by_radius]
    rural = np.arange(n_town) >= n_town - n_rural_town
    street_names = N.unique_names(rng, N.PLACE_FIRST, N.PLACE_SECOND, n_town - n_rural_town, "街道")
    town_names = N.unique_names(rng, N.PLACE_FIRST, N.PLACE_SECOND, n_rural_town, "镇", set(street_names))
    # Districts: townships in reading order (north to south, west to east), a dozen each.
    reading = np.lexsort((anchors[:, 0], -np.round(anchors[:, 1] / 2000)))
    plans: list[TownshipPlan | None] = [None] * n_town
    numbers: dict[tuple[int, bool], int] = {}
    for rank, t in enumerate(reading):
        d = rank // TOWNSHIPS_PER_DISTRICT
        code = f"{CITY_PREFIX}{d + 2:02d}"
        k = numbers[(d, rural[t])] = numbers.get((d, rural[t]), 0) + 1
        township = f"{100 + k:03d}" if rural[t] else f"{k:03d}"
        name = town_names.pop() if rural[t] else street_names.pop()
        plans[t] = TownshipPlan(code, f"第{d + 1}区", township, name, bool(rural[t]), int(counts[t]),
                                tuple(anchors[t]), float(counts[t] / density[t]))
    town, community = grow_communities(rng, pts, cells, members, neighbours, plans, centre)
    communities = community_frame(rng, cells, community, town, plans, crs)
    outline = territory(communities)

    rng = rng_for(seed, "city-roads")
    urban = shapely.coverage_union_all(communities.geometry.values[(communities["class"] == "urban").to_numpy()])
    roads = build_roads(rng, outline, urban, major_step=2500.0, local_step=400.0, crs=crs)
    rivers = build_rivers(rng_for(seed, "city-rivers"), outline, 2, crs)
    blocked = barriers(roads, rivers)

    rng = rng_for(seed, "city-buildings")
    spec = _spec_for(communities, n_buildings)
    slots = candidate_slots(rng, communities, roads, rivers, spec, setback=3.0)
    kinds = list(rng.choice(DEDICATED_KINDS, max(n_communities // 4, 1)))
    dedicated = place_dedicated(rng, communities, slots, kinds, blocked)
    if len(dedicated):
        hit = STRtree(dedicated.geometry.buffer(3).values).query(slots.geometry, predicate="intersects")[0]
        keep = np.setdiff1d(np.arange(len(slots.x)), hit)
        for name in ("geometry", "owner", "x", "y", "area", "rural", "tower"):
            setattr(slots, name, getattr(slots, name)[keep])
    floors, households = residential_attributes(rng, slots.area, slots.rural, slots.tower, spec.lowrise_share)
    # Villages get their own share (about 330 houses each, 1-2 households a house), the rest goes to the city.
    rural_slots, urban_slots = np.flatnonzero(slots.rural), np.flatnonzero(~slots.rural)
    n_villages = int((communities["class"] == "rural").sum())
    n_rural = min(len(rural_slots), n_villages * HOUSES_PER_VILLAGE, n_buildings // 3)
    n_urban = min(len(urban_slots), n_buildings - n_rural)
    n_rural = min(len(rural_slots), n_buildings - n_urban)
    weight = hamlet_weights(rng, slots, len(communities))[rural_slots]
    key = rng.random(len(weight)) ** (1.0 / weight)  # weighted order without replacement (Efraimidis–Spirakis)
    chosen = np.sort(np.concatenate([rural_slots[np.argsort(-key)[:n_rural]],
                                     rng.choice(urban_slots, n_urban, replace=False)]))
    hh = households[chosen]
    missing = rng.random(len(chosen)) < 0.05
    population = np.round(hh * rng.uniform(*PERSONS_PER_HOUSEHOLD, len(chosen)))
    buildings = gpd.GeoDataFrame(
        {
            "building_id": [f"C{i + 1:07d}" for i in range(len(chosen))],
            "households": pd.array(np.where(missing, 0, hh), dtype="Int64"),
            "population": pd.array(population, dtype="Int64"),
            "floors": floors[chosen],
            "use": "residential",
            "name": None,
        },
        geometry=slots.geometry[chosen],
        crs=crs,
    )
    buildings.loc[missing, "households"] = pd.NA  # withheld, as in the district: the planner estimates them
    return {
        "communities": to_storage_rounded(communities),
        "buildings": to_storage_rounded(buildings),
        "roads": to_storage_rounded(roads),
        "rivers": to_storage_rounded(rivers),
        "dedicated": to_storage_rounded(dedicated),
    }


def _apportion(total: int, weights: np.ndarray, minimum: int = 1) -> np.ndarray:
    """Integers proportional to ``weights`` summing to ``total``, each at least ``minimum`` (largest remainder)."""
    share = weights / weights.sum() * (total - minimum * len(weights))
    base = np.floor(share).astype(int)
    rest = total - minimum * len(weights) - base.sum()
    base[np.argsort(-(share - base), kind="stable")[:rest]] += 1
    return base + minimum


def _spec_for(communities: gpd.GeoDataFrame, n_buildings: int) -> BuildingSpec:
    """Lattice steps that give about twice ``n_buildings`` slots, urban slots denser than rural."""
    rural = (communities["class"] == "rural").to_numpy()
    area = communities.area.to_numpy()
    # Urban slots take 3 times the share of buildings per area of rural ones.
    urban_area, rural_area = area[~rural].sum(), area[rural].sum()
    slot_urban = (urban_area + rural_area / 3) * 0.5 / n_buildings  # m² per urban slot for 2x the buildings
    s = float(np.clip(np.sqrt(slot_urban), 14.0, 80.0))
    r = s * np.sqrt(3)
    return BuildingSpec(
        urban_step=(s * 1.2, s / 1.2),
        rural_step=(r * 1.1, r / 1.1),
        urban_length=(0.45 * s, 0.9 * s),
        urban_width=(0.3 * s, 0.5 * s),
        rural_length=(min(10.0, 0.4 * r), min(16.0, 0.6 * r)),
        rural_width=(min(8.0, 0.3 * r), min(12.0, 0.45 * r)),
        tower_share=0.15,
        lowrise_share=0.5,
    )
