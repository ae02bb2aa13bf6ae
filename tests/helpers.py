"""Small builders of input files for tests."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely

# A 2 x 1 block of communities near Hangzhou (lon 120.1, lat 30.27), each about 960 m x 1100 m.
X0, Y0, DX, DY = 120.10, 30.27, 0.01, 0.01


def communities_gdf(codes=("330106001001", "330106001002"), crs=4490) -> gpd.GeoDataFrame:
    geoms = [shapely.box(X0 + i * DX, Y0, X0 + (i + 1) * DX, Y0 + DY) for i in range(len(codes))]
    return gpd.GeoDataFrame({"code": list(codes), "name": [f"社区{i + 1}" for i in range(len(codes))]}, geometry=geoms, crs=crs)


def write(gdf: gpd.GeoDataFrame, path: Path, **kwargs) -> Path:
    import pyogrio

    pyogrio.write_dataframe(gdf, path, **kwargs)
    return path
