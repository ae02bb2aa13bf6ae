"""Reading and writing vector files: GeoJSON, GeoPackage, Shapefile (GBK .dbf too), FlatGeobuf, CSV lon/lat."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from pyproj import CRS
from pyproj.exceptions import CRSError

from gis.errors import Problem, VectorInputError
from gis.webcoords import transform_geometries

#: ``crs`` values meaning web-map lon/lat (converted to WGS84 on reading).
WEB_MAP_SYSTEMS = {"gcj02", "gcj-02", "gcj", "bd09", "bd-09", "bd09ll"}

#: Output driver by file extension.
DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "ESRI Shapefile", ".fgb": "FlatGeobuf"}
READABLE = {*DRIVERS, ".csv", ".zip"}

LON_NAMES = ("lon", "lng", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")

# dBASE language driver ids (byte 29 of the header) that mean a Chinese code page.
_CHINESE_LDIDS = {0x4D: "gb18030", 0x7A: "gb18030", 0x4E: "big5", 0x78: "big5"}


def parse_crs(value: str | int | CRS | None) -> CRS | None:
    """A pyproj CRS from ``EPSG:4490``, ``4490``, WKT or PROJ text; None stays None."""
    if value is None or isinstance(value, CRS):
        return value
    text = str(value).strip()
    if text.isdigit():
        text = f"EPSG:{text}"
    return CRS.from_user_input(text)


def dbf_encoding(shp_path: Path) -> str | None:
    """The text encoding of a Shapefile's attributes: its .cpg, else its language id, else a guess.

    A .dbf made by Chinese desktop GIS often has no .cpg and holds GBK text; GDAL would then read it as
    Latin-1 and produce mojibake, so we look at the bytes: valid UTF-8 stays UTF-8, anything else is GB18030
    (a superset of GBK and GB2312).
    """
    for cpg in (shp_path.with_suffix(".cpg"), shp_path.with_suffix(".CPG")):
        if cpg.exists():
            name = cpg.read_text(errors="ignore").strip().lower()
            if name in {"936", "cp936", "gbk", "gb2312", "gb18030"}:
                return "gb18030"
            return name or None
    dbf = next((p for p in (shp_path.with_suffix(".dbf"), shp_path.with_suffix(".DBF")) if p.exists()), None)
    if dbf is None:
        return None
    raw = dbf.read_bytes()
    if len(raw) > 29 and raw[29] in _CHINESE_LDIDS:
        return _CHINESE_LDIDS[raw[29]]
    header_len = int.from_bytes(raw[8:10], "little") if len(raw) >= 10 else 0
    body = raw[header_len:]
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def list_layers(path: str | Path) -> list[str]:
    """Layer names of a vector file."""
    return [str(name) for name, _ in pyogrio.list_layers(path)]


def read_vector(
    path: str | Path,
    *,
    layer: str | None = None,
    crs: str | int | CRS | None = None,
    encoding: str | None = None,
    lon: str | None = None,
    lat: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a vector file into a GeoDataFrame, with errors that name the file and the problem.

    ``crs`` is used where the file has none (always for CSV, default WGS84 there). ``gcj02`` or ``bd09``
    (web-map coordinates: AMap, Tencent, Baidu) say the lon/lat in the file are in that system whatever the
    file declares: they are converted to WGS84 (:mod:`gis.webcoords`). ``lon``/``lat`` name the coordinate
    columns of a CSV (default: the first of lon/lng/longitude/x/经度 and lat/latitude/y/纬度). Otherwise
    geometry is returned as read: no reprojection, no repair (see :mod:`gis.validate`). A GeoPackage of
    several layers is read at the layer named after the file (as Gridplanner writes them), else ``layer``.
    """
    path = Path(path)
    if crs is not None and str(crs).strip().lower() in WEB_MAP_SYSTEMS:
        gdf = read_vector(path, layer=layer, crs=4326, encoding=encoding, lon=lon, lat=lat)
        if not CRS(gdf.crs).is_geographic:
            raise VectorInputError(path, f"--crs {crs} means lon/lat from a web map, but the file is in {CRS(gdf.crs).name}")
        moved = transform_geometries(gdf.geometry.values.to_numpy(), str(crs), "wgs84")
        return gdf.set_geometry(gpd.GeoSeries(moved, index=gdf.index, crs=4326), crs=4326)
    if not path.exists():
        raise VectorInputError(path, "file not found")
    suffix = path.suffix.lower()
    if suffix not in READABLE:
        raise VectorInputError(path, f"unsupported file type {suffix!r}; use one of {sorted(READABLE)}")
    try:
        user_crs = parse_crs(crs)
    except CRSError as exc:
        raise VectorInputError(path, f"unknown CRS {crs!r}: {exc}") from None
    if suffix == ".csv":
        return _read_csv(path, user_crs, encoding, lon, lat)

    if suffix == ".shp" and encoding is None:
        encoding = dbf_encoding(path)
    try:
        if layer is None and suffix == ".gpkg":
            layers = list_layers(path)
            if len(layers) > 1:
                if path.stem not in layers:
                    raise VectorInputError(path, f"has {len(layers)} layers {layers}; choose one with --layer")
                layer = path.stem
        kwargs = {"layer": layer} if layer else {}
        if encoding:
            kwargs["encoding"] = encoding
        gdf = pyogrio.read_dataframe(path, **kwargs)
    except VectorInputError:
        raise
    except Exception as exc:  # pyogrio raises several GDAL error classes; all mean "cannot read"
        raise VectorInputError(path, f"cannot read: {exc}") from None
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf:
        raise VectorInputError(path, "has no geometry column")
    if gdf.crs is None:
        if user_crs is None:
            raise VectorInputError(path, "has no CRS (add a .prj, or give the CRS explicitly, e.g. --crs EPSG:4490)")
        gdf = gdf.set_crs(user_crs)
    return gdf


def _find_column(columns: list[str], wanted: str | None, names: tuple[str, ...]) -> str | None:
    if wanted:
        return wanted if wanted in columns else None
    lower = {c.lower().strip(): c for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def _read_csv(path: Path, crs: CRS | None, encoding: str | None, lon: str | None, lat: str | None) -> gpd.GeoDataFrame:
    df = None
    for enc in [encoding] if encoding else ["utf-8-sig", "gb18030"]:
        try:
            df = pd.read_csv(path, encoding=enc, dtype=str, keep_default_na=False)
            break
        except UnicodeDecodeError:
            continue
        except Exception as exc:
            raise VectorInputError(path, f"cannot read CSV: {exc}") from None
    if df is None:
        raise VectorInputError(path, "cannot decode CSV as UTF-8 or GB18030; give --encoding")
    cols = list(df.columns)
    lon_col, lat_col = _find_column(cols, lon, LON_NAMES), _find_column(cols, lat, LAT_NAMES)
    if lon_col is None or lat_col is None:
        raise VectorInputError(path, f"no longitude/latitude columns found among {cols}; name them with --lon/--lat")
    xs = pd.to_numeric(df[lon_col].str.strip(), errors="coerce").to_numpy(dtype=float)
    ys = pd.to_numeric(df[lat_col].str.strip(), errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~(np.isfinite(xs) & np.isfinite(ys)))
    if len(bad):
        raise VectorInputError(
            path,
            [Problem(f"{lon_col}/{lat_col} not numeric: {df[lon_col].iat[i]!r}, {df[lat_col].iat[i]!r}", feature=int(i)) for i in bad],
        )
    attrs = df.drop(columns=[lon_col, lat_col])
    return gpd.GeoDataFrame(attrs, geometry=gpd.points_from_xy(xs, ys), crs=crs or CRS.from_epsg(4326))


def write_vector(gdf: gpd.GeoDataFrame, path: str | Path, *, layer: str | None = None,
                 more: dict[str, gpd.GeoDataFrame] | None = None) -> Path:
    """Write ``gdf`` to ``path``, the format chosen by extension; an existing file is replaced whole.

    ``more`` adds further named layers (GeoPackage only). The file is written beside the target and renamed
    into place, so a failed write leaves no half file.
    """
    path = Path(path)
    driver = DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise ValueError(f"{path}: unsupported output type {path.suffix!r}; use one of {sorted(DRIVERS)}")
    if more and driver != "GPKG":
        raise ValueError(f"{path}: only a GeoPackage (.gpkg) holds several layers")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    _remove_dataset(tmp)
    kwargs = {"encoding": "UTF-8"} if driver == "ESRI Shapefile" else {}
    try:
        pyogrio.write_dataframe(gdf, tmp, driver=driver, layer=layer or path.stem, **kwargs)
        for name, extra in (more or {}).items():
            pyogrio.write_dataframe(extra, tmp, driver=driver, layer=name, append=True)
        _remove_dataset(path)
        for part in _dataset_parts(tmp):
            part.rename(path.with_suffix(part.suffix) if driver == "ESRI Shapefile" else path)
    finally:
        _remove_dataset(tmp)
    return path


def _dataset_parts(path: Path) -> list[Path]:
    if path.suffix.lower() == ".shp":
        return [p for p in path.parent.glob(path.stem + ".*") if p.suffix.lower() in {".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix"}]
    return [path] if path.exists() else []


def _remove_dataset(path: Path) -> None:
    for part in _dataset_parts(path):
        part.unlink()
