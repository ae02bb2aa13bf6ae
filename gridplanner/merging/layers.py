"""Department layers as given: their ids, repairs, overlaps inside a layer and how they sit on the communities."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gis.errors import Problem, VectorInputError
from gis.validate import POLYGON, check_features
from gridplanner.merging.geometry import DUST_M2, polygonal

#: Fields tried, in order, for a department grid's own id when none is named.
ID_FIELDS = ("dept_id", "id", "code")


@dataclass
class Layer:
    """One department's grids in the working (metric) CRS."""

    name: str
    ids: np.ndarray  # each grid's own id, as text
    id_field: str | None  # None: ids are feature positions
    geoms: np.ndarray  # repaired polygons, metric CRS
    repairs: list[Problem] = field(default_factory=list)

    def label(self, i: int) -> str:
        return f"{self.name}:{self.ids[i]}"


def choose_id_field(gdf: gpd.GeoDataFrame, wanted: str | None) -> str | None:
    """``wanted`` when the layer has it, else the first of dept_id/id/code it has, else None (use positions)."""
    if wanted and wanted in gdf.columns:
        return wanted
    return next((f for f in ID_FIELDS if f in gdf.columns), None)


def prepare_layer(name: str, gdf: gpd.GeoDataFrame, id_field: str | None, crs: CRS) -> Layer:
    """Check and repair ``gdf`` (errors name the layer and feature) and move it into ``crs``."""
    if gdf is None or len(gdf) == 0:
        raise VectorInputError(f"layer {name}", "contains no features")
    chosen = choose_id_field(gdf, id_field)
    checked = check_features(gdf, f"layer {name}", POLYGON, id_field=chosen)
    if chosen is None:
        ids = np.array([str(i) for i in range(len(gdf))], dtype=object)
    else:
        values = checked.data[chosen]
        ids = np.array([str(i) if pd.isna(v) else str(v) for i, v in enumerate(values)], dtype=object)
    geoms = checked.data.to_crs(crs).geometry.values.to_numpy()
    return Layer(name, ids, chosen, geoms, checked.repairs)


def overlaps_within(layer: Layer, min_area_m2: float = 0.01) -> list[dict]:
    """Pairs of grids of one layer whose interiors overlap, with the overlapping area."""
    tree = shapely.STRtree(layer.geoms)
    # Interiors meet when the grids overlap or one holds the other; touching neighbours are left out cheaply.
    a1, b1 = tree.query(layer.geoms, predicate="overlaps")
    a2, b2 = tree.query(layer.geoms, predicate="contains")
    a, b = np.r_[a1, a2, b2], np.r_[b1, b2, a2]
    pairs = np.unique(np.c_[np.minimum(a, b), np.maximum(a, b)], axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    a, b = pairs[:, 0], pairs[:, 1]
    areas = shapely.area(shapely.intersection(layer.geoms[a], layer.geoms[b]))
    hit = areas > min_area_m2
    return [
        {"department": layer.name, "department_grid_ids": [str(layer.ids[i]), str(layer.ids[j])], "area_m2": round(float(s), 2)}
        for i, j, s in zip(a[hit], b[hit], areas[hit])
    ]


@dataclass
class Clip:
    """A layer cut along community lines: one row per (grid, community) piece with area."""

    grid: np.ndarray  # index into the layer
    community: np.ndarray  # index into the communities
    geoms: np.ndarray  # the pieces (may be multi-part)
    clipped_area: np.ndarray  # per layer grid: area inside all communities (m²)
    full_area: np.ndarray  # per layer grid: whole area (m²)


def clip_to_communities(layer: Layer, communities: np.ndarray) -> Clip:
    """Intersect every grid of ``layer`` with every community it meets."""
    tree = shapely.STRtree(communities)
    g, c = tree.query(layer.geoms, predicate="intersects")
    # Most grids lie wholly inside one community: no overlay needed for those. (The query prepares this
    # layer's grids, never the shared communities.)
    wg, wc = tree.query(layer.geoms, predicate="within")
    inside = np.isin(g * len(communities) + c, wg * len(communities) + wc)
    pieces = layer.geoms[g].copy()
    cut = np.flatnonzero(~inside)
    pieces[cut] = polygonal(shapely.intersection(layer.geoms[g[cut]], communities[c[cut]]))
    keep = shapely.area(pieces) > DUST_M2
    g, c, pieces = g[keep], c[keep], pieces[keep]
    clipped = np.bincount(g, weights=shapely.area(pieces), minlength=len(layer.geoms))
    return Clip(g, c, pieces, clipped, shapely.area(layer.geoms))


def crossing_report(layer: Layer, clip: Clip, codes: np.ndarray, min_area_m2: float) -> tuple[list[dict], list[dict]]:
    """Grids lying in several communities, and grids reaching outside every community (by more than dust)."""
    areas = shapely.area(clip.geoms)
    big = areas >= min_area_m2
    crossing = []
    counts = np.bincount(clip.grid[big], minlength=len(layer.geoms))
    for i in np.flatnonzero(counts > 1):
        sel = (clip.grid == i) & big
        crossing.append(
            {
                "department": layer.name,
                "department_grid_id": str(layer.ids[i]),
                "communities": {str(codes[c]): round(float(a), 1) for c, a in zip(clip.community[sel], areas[sel])},
            }
        )
    outside_area = clip.full_area - clip.clipped_area
    outside = [
        {"department": layer.name, "department_grid_id": str(layer.ids[i]), "area_outside_m2": round(float(outside_area[i]), 1)}
        for i in np.flatnonzero(outside_area >= max(min_area_m2, DUST_M2))
    ]
    return crossing, outside
