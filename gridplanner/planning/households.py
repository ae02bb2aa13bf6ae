"""Households and residents per building, estimated where the data leaves them out (a documented rule)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.crs import area_m2

#: Residents per household used to estimate households from population (China's 2020 census: 2.62; older
#: estates and rural areas run higher, so a rounder 2.8 is used).
PERSONS_PER_HOUSEHOLD = 2.8
#: Gross floor area per household used to estimate households from floors × footprint area.
FLOOR_AREA_PER_HOUSEHOLD_M2 = 90.0
#: Storey height used to estimate floors from a building's height where floors are not given (residential
#: storeys are 2.8–3.0 m; OSM-derived footprints often carry only a height).
STOREY_HEIGHT_M = 3.0
#: ``use`` values that mean nobody lives in the building (no estimate from floor area for those).
NON_RESIDENTIAL_USES = frozenset({"commercial", "office", "industrial", "public", "school", "hospital", "warehouse"})

ESTIMATE_RULE = (
    f"households given, else round(population / {PERSONS_PER_HOUSEHOLD}), else for residential or unknown use "
    f"max(1, round(floors x footprint m2 / {FLOOR_AREA_PER_HOUSEHOLD_M2:g})) with floors given or else "
    f"max(1, round(height m / {STOREY_HEIGHT_M:g})), else 0; population given, else "
    f"round(households x {PERSONS_PER_HOUSEHOLD})"
)


def _numeric(buildings: gpd.GeoDataFrame, name: str) -> np.ndarray:
    if name not in buildings:
        return np.full(len(buildings), np.nan)
    values = pd.to_numeric(buildings[name], errors="coerce").to_numpy(dtype=float, copy=True)
    values[values < 0] = np.nan
    return values


def estimate_households(buildings: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, dict]:
    """Households and population per building (int arrays) and a summary of how they were obtained."""
    households = _numeric(buildings, "households")
    population = _numeric(buildings, "population")
    floors = _numeric(buildings, "floors")
    height = _numeric(buildings, "height")
    from_height = ~np.isfinite(floors) & np.isfinite(height) & (height > 0)
    floors[from_height] = np.maximum(1, np.round(height[from_height] / STOREY_HEIGHT_M))
    given = np.isfinite(households)
    from_pop = ~given & np.isfinite(population)
    out = np.where(given, households, np.nan)
    out[from_pop] = np.round(population[from_pop] / PERSONS_PER_HOUSEHOLD)

    rest = ~np.isfinite(out) & np.isfinite(floors) & (floors > 0)
    if "use" in buildings:
        use = buildings["use"].astype("string").str.strip().str.lower()
        rest &= ~use.isin(NON_RESIDENTIAL_USES).fillna(False).to_numpy(dtype=bool)
    from_area = np.zeros(len(buildings), dtype=bool)
    if rest.any():
        footprint = area_m2(buildings.geometry[rest])
        has_area = footprint > 0
        idx = np.flatnonzero(rest)[has_area]
        out[idx] = np.maximum(1, np.round(floors[idx] * footprint[has_area] / FLOOR_AREA_PER_HOUSEHOLD_M2))
        from_area[idx] = True
    unknown = ~np.isfinite(out)
    out[unknown] = 0
    households_int = out.astype(np.int64)

    pop_given = np.isfinite(population)
    pop = np.where(pop_given, population, np.round(households_int * PERSONS_PER_HOUSEHOLD)).astype(np.int64)
    summary = {
        "rule": ESTIMATE_RULE,
        "households_given": int(given.sum()),
        "households_from_population": int(from_pop.sum()),
        "households_from_floor_area": int(from_area.sum()),
        "floors_from_height": int((from_height & from_area).sum()),
        "households_unknown_set_to_0": int(unknown.sum()),
        "population_estimated": int((~pop_given).sum()),
    }
    return households_int, pop, summary
