"""Writing the sample district to data/boundaries/ so that the same seed gives byte-identical files."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from gis.io import write_vector

#: Files written by :func:`write_sample`, relative to its output directory.
SAMPLE_FILES = [
    "communities.geojson",
    "buildings.gpkg",
    "roads.geojson",
    "rivers.geojson",
    "dedicated.geojson",
    "departments/综治.gpkg",
    "departments/城管.shp",
    "departments/城管.shx",
    "departments/城管.dbf",
    "departments/城管.prj",
    "departments/党建.fgb",
    "staff.csv",
    "incidents.csv",
]
#: Date stamped into GeoPackage metadata and the .dbf header instead of today's (so files do not change daily).
FIXED_DATE = (2026, 11, 1)


@contextlib.contextmanager
def fixed_gdal_date() -> Iterator[None]:
    """GDAL stamps GeoPackages with the current time unless OGR_CURRENT_DATE says otherwise."""
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    y, m, d = FIXED_DATE
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": f"{y:04d}-{m:02d}-{d:02d}T00:00:00Z"})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})


def write_gbk_shapefile(frame: gpd.GeoDataFrame, path: Path) -> list[Path]:
    """A Shapefile whose .dbf holds GBK text and says nothing about it: no .cpg, language id 0.

    This is what Chinese desktop GIS often hands over; readers have to recognise GBK from the bytes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for part in path.parent.glob(path.stem + ".*"):
        part.unlink()
    pyogrio.write_dataframe(frame, path, driver="ESRI Shapefile", encoding="GBK", layer=path.stem)
    path.with_suffix(".cpg").unlink(missing_ok=True)
    dbf = path.with_suffix(".dbf")
    raw = bytearray(dbf.read_bytes())
    y, m, d = FIXED_DATE
    raw[1:4] = bytes([y - 1900, m, d])  # last-update date in the header
    raw[29] = 0  # language driver id: unknown
    dbf.write_bytes(bytes(raw))
    return [path.with_suffix(s) for s in (".shp", ".shx", ".dbf", ".prj")]


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """CSV in UTF-8 with BOM (Excel opens it right), LF line ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
    return path


def write_sample(out_dir: Path, seed: int = 20261122) -> list[Path]:
    """Generate the sample district and write it to ``out_dir`` (files as in :data:`SAMPLE_FILES`)."""
    from gridplanner.sampledata.district import generate_district

    out_dir = Path(out_dir)
    data = generate_district(seed)
    dept = out_dir / "departments"
    paths: list[Path] = []
    with fixed_gdal_date():
        for key, name in (("communities", "communities.geojson"), ("buildings", "buildings.gpkg"),
                          ("roads", "roads.geojson"), ("rivers", "rivers.geojson"), ("dedicated", "dedicated.geojson")):
            paths.append(write_vector(data[key], out_dir / name))
        paths.append(write_vector(data["dept_综治"], dept / "综治.gpkg"))
        paths.extend(write_gbk_shapefile(data["dept_城管"], dept / "城管.shp"))
        paths.append(write_vector(data["dept_党建"], dept / "党建.fgb"))
    paths.append(write_table(data["staff"], out_dir / "staff.csv"))
    paths.append(write_table(data["incidents"], out_dir / "incidents.csv"))
    return paths
