"""Department layers as given: their ids, repairs, overlaps inside a layer and how they sit on the communities."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gis.crs import STORAGE_CRS, transform
from gis.errors import Problem, VectorInputError
from gis.overlay import DUST_M2, polygonal
from gis.precision import MAX_OUTLINE_EDGE_DEG, densify
from gis.validate import POLYGON, check_features

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
    # Edges cut short in lon/lat as the communities' are (gis.precision): an edge the layer shares with a
    # community line then follows it in the metric CRS too, instead of its chord a few millimetres off.
    geoms = transform(densify(checked.data.geometry.values.to_numpy(), MAX_OUTLINE_EDGE_DEG), STORAGE_CRS, crs)
    return Layer(name, ids, chosen, geoms, checked.repairs)


def overlaps_within(layer: Layer, min_area_m2: float = 0.01) -> list[dict]:
    """Pairs of grids of one layer whose interiors overlap, with the overlapping area."""
    tree = shapely.STRtree(layer.geoms)
    a, b = tree.query(layer.geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    # Interiors meet when the grids overlap or one holds the other; touching neighbours are left out by one
    # relate each (cheaper than the tree's prepared "overlaps" and "contains" queries).
    inner = shapely.relate_pattern(layer.geoms[a], layer.geoms[b], "T********")
    a, b = a[inner], b[inner]
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
    counts = np.bincount(clip.grid[big], minlength=len(layer.geoms))
    # The big pieces of grids in several communities, grouped by grid (stable: in clip order within a grid).
    rows = np.flatnonzero(big & (counts[clip.grid] > 1))
    rows = rows[np.argsort(clip.grid[rows], kind="stable")]
    starts = np.flatnonzero(np.r_[True, clip.grid[rows][1:] != clip.grid[rows][:-1]]) if len(rows) else rows
    ends = np.r_[starts[1:], len(rows)]
    names = codes[clip.community[rows]].astype(str).tolist()
    crossing = [
        {
            "department": layer.name,
            "department_grid_id": str(layer.ids[clip.grid[rows[s]]]),
            "communities": {names[k]: round(float(areas[rows[k]]), 1) for k in range(s, e)},
        }
        for s, e in zip(starts, ends)
    ]
    outside_area = clip.full_area - clip.clipped_area
    outside = [
        {"department": layer.name, "department_grid_id": str(layer.ids[i]), "area_outside_m2": round(float(outside_area[i]), 1)}
        for i in np.flatnonzero(outside_area >= max(min_area_m2, DUST_M2))
    ]
    return crossing, outside
