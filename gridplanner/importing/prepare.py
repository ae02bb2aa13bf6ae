"""Read a file, check every feature and map its fields onto ours, touching nothing in the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.crs import projected_crs_for
from gis.errors import Problem, VectorInputError
from gis.io import read_vector
from gis.precision import normalize_outlines
from gis.validate import LINE, POLYGON, POLYGON_OR_POINT, check_features
from gridplanner.coding import check_code_table
from gridplanner.importing.fields import resolve_fields

KINDS = ("communities", "buildings", "roads", "rivers", "walls", "dedicated", "layer")
LINE_KINDS = {"roads": "road", "rivers": "river", "walls": "wall"}

DEDICATED_KINDS = ("school", "hospital", "park", "industrial_park", "market", "government", "enterprise", "other")
_DEDICATED_NAMES = {
    "学校": "school", "中学": "school", "小学": "school", "幼儿园": "school", "大学": "school",
    "医院": "hospital", "卫生院": "hospital", "公园": "park", "广场": "park",
    "产业园": "industrial_park", "工业园": "industrial_park", "园区": "industrial_park", "industrial park": "industrial_park",
    "市场": "market", "商场": "market", "机关": "government", "党政机关": "government", "企业": "enterprise", "其他": "other",
}
_CLASS_NAMES = {"urban": "urban", "rural": "rural", "城镇": "urban", "城市": "urban", "社区": "urban", "农村": "rural", "乡村": "rural", "村": "rural"}
LAYER_ID_FIELDS = ("dept_id", "id", "code")


@dataclass
class Prepared:
    """Checked features in EPSG:4490 with our field names, ready to write."""

    kind: str
    source: str
    data: gpd.GeoDataFrame
    repairs: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    department: str | None = None
    id_field: str | None = None


def prepare(
    kind: str,
    path: str | Path,
    *,
    layer: str | None = None,
    crs: str | None = None,
    encoding: str | None = None,
    lon: str | None = None,
    lat: str | None = None,
    fields: dict[str, str] | None = None,
    department: str | None = None,
    id_field: str | None = None,
) -> Prepared:
    """Prepare ``path`` for import as ``kind`` (one of :data:`KINDS`); raises VectorInputError on bad input."""
    if kind not in KINDS:
        raise ValueError(f"unknown import kind {kind!r}; choose one of {KINDS}")
    source = str(path)
    raw = read_vector(path, layer=layer, crs=crs, encoding=encoding, lon=lon, lat=lat)
    try:
        if kind == "communities":
            return _communities(raw, source, fields)
        if kind == "buildings":
            return _buildings(raw, source, fields)
        if kind in LINE_KINDS:
            return _lines(raw, source, fields, LINE_KINDS[kind], kind)
        if kind == "dedicated":
            return _dedicated(raw, source, fields)
        return _layer(raw, source, fields, department, id_field)
    except KeyError as exc:  # an explicit --field naming a missing column
        raise VectorInputError(source, str(exc.args[0])) from None


def _text(values: pd.Series) -> list[str | None]:
    out = []
    for v in values.tolist():
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
        else:
            s = str(v).strip()
            # Codes read from numeric DBF fields come back as floats: 330106001001.0
            out.append(s[:-2] if s.endswith(".0") and s[:-2].isdigit() else (s or None))
    return out


def _ints(raw: gpd.GeoDataFrame, col: str | None, ours: str, idents: list, problems: list[Problem]) -> pd.Series:
    """A nullable integer column; non-numeric, fractional or negative values are problems."""
    if col is None:
        return pd.Series(pd.NA, index=raw.index, dtype="Int64")
    text = pd.Series(_text(raw[col]), index=raw.index, dtype=object)
    nums = pd.to_numeric(text, errors="coerce")
    bad = (text.notna() & nums.isna()) | (nums.notna() & ((nums < 0) | (nums % 1 != 0)))
    for pos in np.flatnonzero(bad.to_numpy()):
        problems.append(Problem(f"{ours} ({col}) is {text.iat[pos]!r}: expected a whole number ≥ 0", int(pos), idents[pos]))
    return nums.where(~bad).round().astype("Int64")


def _check(raw, source, geometry_kind, id_col):
    res = check_features(raw, source, geometry_kind, id_field=id_col)
    return res.data, res.repairs


def _communities(raw: gpd.GeoDataFrame, source: str, mapping) -> Prepared:
    cols = resolve_fields(list(raw.columns.drop(raw.geometry.name)), ["code", "name", "street_code", "street_name", "district_code", "district_name", "class", "urban_rural_code"], mapping)
    if "code" not in cols:
        raise VectorInputError(source, f"no community code field found; name it with --field code=COLUMN (columns: {list(raw.columns)})")
    data, repairs = _check(raw, source, POLYGON, cols["code"])
    codes = _text(data[cols["code"]])
    names = _text(data[cols["name"]]) if "name" in cols else [None] * len(data)
    street = _text(data[cols["street_code"]]) if "street_code" in cols else [c[:9] if c else None for c in codes]
    # Structure (GB/T 2260 county, 街道/镇/乡 and 居委会/村委会 ranges), duplicates, and the street it sits under.
    problems = check_code_table(codes, length=12, parents=street if "street_code" in cols else None, idents=codes)
    if problems:
        raise VectorInputError(source, problems)

    ur = _text(data[cols["urban_rural_code"]]) if "urban_rural_code" in cols else [None] * len(data)
    given = _text(data[cols["class"]]) if "class" in cols else [None] * len(data)
    classes, notes, problems = [], [], []
    for i, (code, cls, urc) in enumerate(zip(codes, given, ur)):
        if cls is not None:
            if cls.lower() not in _CLASS_NAMES:
                problems.append(Problem(f"class {cls!r} is not urban/rural (城镇/农村)", i, code))
                continue
            classes.append(_CLASS_NAMES[cls.lower()])
        elif urc and urc[:1] in "12":
            classes.append("urban" if urc[0] == "1" else "rural")
        else:
            # 村委会 codes are 200–399 in the community segment; 居委会 001–199.
            classes.append("rural" if 200 <= int(code[9:]) <= 399 else "urban")
    if problems:
        raise VectorInputError(source, problems)
    if "class" not in cols:
        notes.append("urban/rural class derived from the urban–rural code or the community segment (居委会 001–199 urban, 村委会 200–399 rural)")
    # The precision model (gis.precision): the outlines the grids will tile exactly, in lon/lat and in metres.
    labels = [" ".join(v for v in (c, n) if v) for c, n in zip(codes, names)]
    geoms, precision = normalize_outlines(data.geometry.values.to_numpy(), labels, projected_crs_for(data), source)
    if precision["changed"]:
        snapped = [labels[c["index"]] for c in precision["changed"] if c["snapped"]]
        notes.append(
            f"precision model: {len(precision['changed'])} outlines put on the 1e-7° grid with edges ≤ 1e-4° "
            f"({precision['vertices_added']} vertices added on their edges"
            + (f"; {len(snapped)} snapped to the grid, largest area moved {precision['largest_area_moved_m2']:.3g} m²: {', '.join(snapped[:5])}" if snapped else "")
            + ")"
        )
    out = gpd.GeoDataFrame(
        {
            "code": codes,
            "name": [n or c for n, c in zip(names, codes)],
            "street_code": [c[:9] for c in codes],
            "street_name": _text(data[cols["street_name"]]) if "street_name" in cols else None,
            "district_code": [c[:6] for c in codes],
            "district_name": _text(data[cols["district_name"]]) if "district_name" in cols else None,
            "class": classes,
            "urban_rural_code": ur,
        },
        geometry=geoms,
        crs=data.crs,
    )
    return Prepared("communities", source, out, repairs, notes)


def _buildings(raw: gpd.GeoDataFrame, source: str, mapping) -> Prepared:
    cols = resolve_fields(list(raw.columns.drop(raw.geometry.name)), ["building_id", "name", "use", "households", "population", "floors"], mapping)
    data, repairs = _check(raw, source, POLYGON_OR_POINT, cols.get("building_id"))
    ids = _text(data[cols["building_id"]]) if "building_id" in cols else [None] * len(data)
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, bid in enumerate(ids):
        if bid is not None:
            if bid in seen:
                problems.append(Problem(f"duplicate building id {bid} (also feature {seen[bid]})", i, bid))
            seen.setdefault(bid, i)
    ints = {f: _ints(data, cols.get(f), f, ids, problems) for f in ("households", "population", "floors")}
    if problems:
        raise VectorInputError(source, problems)
    notes = []
    missing = int(ints["households"].isna().sum())
    if missing:
        notes.append(f"{missing} buildings have no households; planning estimates them")
    out = gpd.GeoDataFrame(
        {
            "building_id": ids,
            "name": _text(data[cols["name"]]) if "name" in cols else None,
            "use": _text(data[cols["use"]]) if "use" in cols else None,
            **ints,
        },
        geometry=data.geometry.values,
        crs=data.crs,
    )
    return Prepared("buildings", source, out, repairs, notes)


def _lines(raw, source, mapping, line_kind: str, kind: str) -> Prepared:
    cols = resolve_fields(list(raw.columns.drop(raw.geometry.name)), ["name", "category"], mapping)
    data, repairs = _check(raw, source, LINE, cols.get("name"))
    out = gpd.GeoDataFrame(
        {
            "kind": line_kind,
            "name": _text(data[cols["name"]]) if "name" in cols else None,
            "category": _text(data[cols["category"]]) if "category" in cols else None,
        },
        geometry=data.geometry.values,
        crs=data.crs,
    )
    return Prepared(kind, source, out, repairs)


def _dedicated(raw, source, mapping) -> Prepared:
    cols = resolve_fields(list(raw.columns.drop(raw.geometry.name)), ["name", "kind"], mapping)
    if "kind" not in cols:
        raise VectorInputError(source, f"no kind field for dedicated areas (one of {DEDICATED_KINDS}); name it with --field kind=COLUMN")
    data, repairs = _check(raw, source, POLYGON, cols.get("name"))
    names = _text(data[cols["name"]]) if "name" in cols else [None] * len(data)
    kinds, problems = [], []
    for i, k in enumerate(_text(data[cols["kind"]])):
        norm = None if k is None else (k.lower() if k.lower() in DEDICATED_KINDS else _DEDICATED_NAMES.get(k.lower()))
        if norm is None:
            problems.append(Problem(f"kind {k!r} is not one of {DEDICATED_KINDS} (or 学校/医院/公园/产业园/市场/机关)", i, names[i]))
        kinds.append(norm)
    if problems:
        raise VectorInputError(source, problems)
    out = gpd.GeoDataFrame({"name": names, "kind": kinds}, geometry=data.geometry.values, crs=data.crs)
    return Prepared("dedicated", source, out, repairs)


def _layer(raw, source, mapping, department: str | None, id_field: str | None) -> Prepared:
    if not department or not department.strip():
        raise VectorInputError(source, "a department layer needs its department name (--department 综治)")
    columns = list(raw.columns.drop(raw.geometry.name))
    if id_field and id_field not in columns:
        raise VectorInputError(source, f"id field {id_field!r} not found (columns: {columns})")
    id_col = id_field or next((c for c in LAYER_ID_FIELDS if c in columns), None)
    data, repairs = _check(raw, source, POLYGON, id_col)
    ids = _text(data[id_col]) if id_col else [str(i) for i in range(len(data))]
    problems, seen = [], {}
    for i, gid in enumerate(ids):
        if gid is None:
            problems.append(Problem(f"missing grid id in field {id_col}", i))
        elif gid in seen:
            problems.append(Problem(f"duplicate grid id {gid} (also feature {seen[gid]})", i, gid))
        else:
            seen[gid] = i
    if problems:
        raise VectorInputError(source, problems)
    name_col = resolve_fields(columns, ["name"], mapping).get("name")
    extra = [c for c in columns if c not in {id_col, name_col}]
    attrs = [{c: (None if pd.isna(v) else (v if isinstance(v, (int, float, str, bool)) else str(v))) for c, v in row.items()} for row in data[extra].to_dict("records")] if extra else [{}] * len(data)
    out = gpd.GeoDataFrame(
        {"dept_grid_id": ids, "name": _text(data[name_col]) if name_col else None, "attributes": attrs},
        geometry=data.geometry.values,
        crs=data.crs,
    )
    notes = [f"grid ids from field {id_col}" if id_col else "no id field (dept_id/id/code): grid ids are feature positions"]
    return Prepared("layer", source, out, repairs, notes, department=department.strip(), id_field=id_col)
