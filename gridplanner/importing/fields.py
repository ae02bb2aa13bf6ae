"""Which source field feeds which of our fields: explicit ``--field ours=theirs`` or well-known aliases."""

from __future__ import annotations

from collections.abc import Mapping

# Our field -> names commonly found in Chinese government and open data, tried in order (case-insensitive).
ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("code", "统计用区划代码", "区划代码", "社区代码", "村代码", "adcode", "cun_code", "sq_code"),
    "name": ("name", "名称", "社区名称", "村名称", "cun_name", "sq_name", "mc"),
    "street_code": ("street_code", "街道代码", "乡镇代码", "town_code", "xz_code"),
    "street_name": ("street_name", "街道名称", "乡镇名称", "town_name", "xz_name"),
    "district_code": ("district_code", "区县代码", "county_code"),
    "district_name": ("district_name", "区县名称", "county_name"),
    "class": ("class", "类型", "城乡类型", "urban_rural"),
    "urban_rural_code": ("urban_rural_code", "城乡分类代码", "cxfl"),
    "building_id": ("building_id", "bid", "楼栋编号", "建筑编号", "id", "fid_"),
    "households": ("households", "hh", "户数", "住户数", "hu"),
    "population": ("population", "pop", "人口", "人口数", "rk"),
    "floors": ("floors", "层数", "楼层", "storeys", "cs"),
    "use": ("use", "用途", "building_use", "yt"),
    "kind": ("kind", "类型", "类别", "type", "lx"),
    "category": ("category", "kind", "等级", "道路等级", "class", "fclass"),
}


def resolve_fields(columns: list[str], wanted: list[str], mapping: Mapping[str, str] | None = None) -> dict[str, str]:
    """Map each wanted field of ours to a source column: the explicit mapping first, then the aliases.

    Raises KeyError naming the field when an explicit mapping points at a column that is not there.

    >>> resolve_fields(["名称", "户数"], ["name", "households", "floors"])
    {'name': '名称', 'households': '户数'}
    """
    mapping = dict(mapping or {})
    lower = {c.lower(): c for c in columns}
    found: dict[str, str] = {}
    for ours in wanted:
        if ours in mapping:
            theirs = mapping[ours]
            if theirs not in columns:
                raise KeyError(f"--field {ours}={theirs}: no column {theirs!r} (columns: {columns})")
            found[ours] = theirs
            continue
        for alias in ALIASES.get(ours, (ours,)):
            col = lower.get(alias.lower())
            if col is not None and col not in found.values():
                found[ours] = col
                break
    return found


def parse_mapping(pairs: list[str] | None) -> dict[str, str]:
    """``["code=CODE", "name=NAME"]`` -> ``{"code": "CODE", "name": "NAME"}``.

    >>> parse_mapping(["households=户数"])
    {'households': '户数'}
    """
    out = {}
    for pair in pairs or []:
        ours, sep, theirs = pair.partition("=")
        if not sep or not ours.strip() or not theirs.strip():
            raise ValueError(f"field mapping {pair!r} is not of the form ours=theirs")
        out[ours.strip()] = theirs.strip()
    return out
