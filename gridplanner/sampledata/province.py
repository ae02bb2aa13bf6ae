"""A simulated province for scale tests: generated cities (:func:`gridplanner.sampledata.city.generate_city`)
side by side as its counties, written county by county so that no more than one county is ever in memory.

Each county is its own deterministic city (seed = the county's number) moved onto a lattice and recoded: the
province 33, cities 01–99 of 20 counties each, so county ``k`` is ``33{k // 20 + 1:02d}{k % 20 + 1:02d}`` and
its communities keep their township and community digits (统计用区划代码 structure). The files are
GeoPackages in one folder, read by ``gridplanner plan`` as any others.

>>> county_code(0), county_code(19), county_code(20)
('330101', '330120', '330201')
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyogrio
import shapely

from gridplanner.sampledata.city import generate_city

#: What one county is written as, by layer (file name without .gpkg).
LAYERS = ("communities", "buildings", "roads", "rivers", "dedicated")
_CODE_FIELDS = ("code", "street_code", "district_code")


def county_code(k: int) -> str:
    """The GB/T 2260 code of the province's county ``k`` (0-based): 20 counties a city."""
    city, county = divmod(k, 20)
    if city >= 99:
        raise ValueError(f"a province of this scheme has at most {99 * 20} counties, not {k + 1}")
    return f"33{city + 1:02d}{county + 1:02d}"


def write_province(out: Path, *, counties: int, communities_per_county: int = 200, buildings_per_community: int = 300,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Write ``counties`` counties of ``communities_per_county`` communities and about
    ``buildings_per_community`` buildings each to ``out``/{communities,buildings,roads,rivers,dedicated}.gpkg
    (EPSG:4490), county by county; returns the number of features written per layer."""
    if counties < 1 or communities_per_county < 2:
        raise ValueError("a province needs at least one county of at least two communities")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in LAYERS:
        (out / f"{name}.gpkg").unlink(missing_ok=True)
    cols = int(np.ceil(np.sqrt(counties)))
    step = None
    written = dict.fromkeys(LAYERS, 0)
    for k in range(counties):
        city = generate_city(n_communities=communities_per_county, n_buildings=communities_per_county * buildings_per_community,
                             seed=1000 + k)
        x0, y0, x1, y1 = city["communities"].total_bounds
        if step is None:
            # Every county of one size has about the same extent: a tenth more keeps them apart.
            step = (1.1 * (x1 - x0), 1.1 * (y1 - y0))
        # County k's lattice cell, west to east then north to south, its south-west corner at the cell's.
        row, col = divmod(k, cols)
        dx, dy = col * step[0] - x0 + 110.0, -row * step[1] - y0 + 30.0
        code = county_code(k)
        for name in LAYERS:
            gdf = city.get(name)
            if gdf is None or len(gdf) == 0:
                continue
            gdf = gdf.copy()
            gdf.geometry = shapely.transform(gdf.geometry.values, lambda xy: xy + np.array([dx, dy]))
            for field in _CODE_FIELDS:
                if field in gdf:
                    gdf[field] = [code + str(v)[6:] if v is not None and len(str(v)) >= 6 else v for v in gdf[field]]
            if "district_name" in gdf:
                gdf["district_name"] = f"模拟县{k + 1}"
            for field in ("building_id", "id"):
                if field in gdf:
                    gdf[field] = [f"{code}-{v}" for v in gdf[field]]
            pyogrio.write_dataframe(gdf, out / f"{name}.gpkg", layer=name, append=(out / f"{name}.gpkg").exists())
            written[name] += len(gdf)
        if progress is not None:
            progress(k + 1, counties)
    return written
