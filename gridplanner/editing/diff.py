"""A draft against the published plan: which grids were added, removed, changed or left as they were.

Grids are matched by code: a draft starts as a copy of the published plan, edits that keep a grid (reshape,
move buildings) keep its code, and grids made by an edit (split, merge) have no code until publication. Grids
left unmatched are then matched by identical geometry in the same community (plans published before codes
existed). A matched grid is unchanged when its shape, type and figures are equal, else changed.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

ADDED, REMOVED, CHANGED, UNCHANGED = "added", "removed", "changed", "unchanged"
_FIGURES = ("type", "community_code", "households", "population", "building_count")


def diff_grids(draft: gpd.GeoDataFrame, published: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """One row per draft grid (``change`` added/changed/unchanged, ``published_id`` of its match) and one per
    published grid with no match (``change`` removed, ``id`` None); both frames need id, code, the
    ``_FIGURES`` columns and a geometry in one CRS."""
    draft = draft.copy()
    draft["published_id"] = None
    draft["change"] = ADDED
    if published is None or published.empty:
        return draft
    by_code = {c: i for i, c in zip(published.index, published["code"]) if c is not None and not pd.isna(c)}
    matched = set()
    gcol, pcol = draft.geometry.name, published.geometry.name
    for i, row in draft.iterrows():
        code = row["code"]
        j = by_code.get(code) if code is not None and not pd.isna(code) else None
        if j is None:
            continue
        matched.add(j)
        old = published.loc[j]
        same = shapely.equals(row[gcol], old[pcol]) and all(row[f] == old[f] for f in _FIGURES)
        draft.at[i, "change"] = UNCHANGED if same else CHANGED
        draft.at[i, "published_id"] = int(old["id"])
    left = [j for j in published.index if j not in matched]
    by_shape = {(published.at[j, "community_code"], shapely.to_wkb(shapely.normalize(published.at[j, pcol]))): j for j in left}
    for i in draft.index[draft["change"] == ADDED]:
        j = by_shape.pop((draft.at[i, "community_code"], shapely.to_wkb(shapely.normalize(draft.at[i, gcol]))), None)
        if j is not None:
            matched.add(j)
            old = published.loc[j]
            draft.at[i, "change"] = UNCHANGED if all(draft.at[i, f] == old[f] for f in _FIGURES) else CHANGED
            draft.at[i, "published_id"] = int(old["id"])
    removed = published.loc[[j for j in published.index if j not in matched]].copy()
    removed["published_id"] = removed["id"].astype(object)
    removed["id"] = None
    removed["change"] = REMOVED
    return gpd.GeoDataFrame(pd.concat([draft, removed], ignore_index=True), geometry=draft.geometry.name, crs=draft.crs)


def change_counts(diff: gpd.GeoDataFrame) -> dict[str, int]:
    counts = diff["change"].value_counts()
    return {k: int(counts.get(k, 0)) for k in (ADDED, REMOVED, CHANGED, UNCHANGED)}
