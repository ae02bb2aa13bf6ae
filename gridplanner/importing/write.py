"""Write prepared features to the store, all in one (nested) transaction."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from geoalchemy2.elements import WKBElement
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from gis.shapes import as_multi
from gridplanner.auth.audit import record
from gridplanner import maplayers

from gridplanner.coding.divisions import township_kind
from gridplanner.importing.prepare import Prepared, prepare
from gridplanner.store import models as m

BATCH = 5000
#: Import kinds whose table a map layer shows.
_TILE_TABLES = {"communities": "communities", "layer": "department_grids", "buildings": "buildings",
                "roads": "linear_features", "rivers": "linear_features", "walls": "linear_features"}


@dataclass
class ImportReport:
    """What an import did: counts, repairs made, and features it could not place."""

    kind: str
    source: str
    inserted: int = 0
    updated: int = 0
    replaced: int = 0
    repairs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unplaced: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _wkb(geoms: np.ndarray) -> list[WKBElement]:
    return [WKBElement(b, srid=m.SRID) for b in shapely.to_wkb(geoms)]


def _none(v):
    return None if not isinstance(v, dict) and pd.isna(v) else v


def _records(prep: Prepared, columns: list[str], multi: bool) -> list[dict]:
    geoms = prep.data.geometry.values
    geoms = as_multi(np.asarray(geoms)) if multi else np.asarray(geoms)
    rows = prep.data[columns].astype(object).to_dict("records") if columns else [{} for _ in range(len(prep.data))]
    for row, g in zip(rows, _wkb(geoms)):
        for k, v in row.items():
            row[k] = _none(v)
        row["geom"] = g
    return rows


def _batches(rows: list[dict]):
    for i in range(0, len(rows), BATCH):
        yield rows[i : i + BATCH]


def import_file(session: Session, kind: str, path: str | Path, *, replace: bool = False, actor: str = "cli", **options) -> ImportReport:
    """Prepare ``path`` as ``kind`` and write it; bad input raises before anything is written."""
    return write_prepared(session, prepare(kind, path, **options), replace=replace, actor=actor)


def write_prepared(session: Session, prep: Prepared, *, replace: bool = False, actor: str = "cli") -> ImportReport:
    report = ImportReport(prep.kind, prep.source, repairs=[r.describe() for r in prep.repairs], notes=list(prep.notes))
    writer = {
        "communities": _write_communities,
        "buildings": _write_buildings,
        "roads": _write_lines,
        "rivers": _write_lines,
        "walls": _write_lines,
        "dedicated": _write_dedicated,
        "layer": _write_layer,
    }[prep.kind]
    with session.begin_nested():
        writer(session, prep, report, replace)
        if prep.kind in _TILE_TABLES:
            # Replaced rows may lie anywhere: drop the layer's tiles whole when replacing, else the file's box.
            bbox = None if replace or prep.kind == "layer" else tuple(prep.data.total_bounds)
            maplayers.invalidate(_TILE_TABLES[prep.kind], bbox, connection=session)
        record(session, actor, f"import {prep.kind}", prep.kind if prep.kind != "layer" else "department_layer", prep.department,
               {k: v for k, v in report.as_dict().items() if k in ("source", "inserted", "updated", "replaced")} | {"repairs": len(report.repairs)})
    return report


def _write_communities(session: Session, prep: Prepared, report: ImportReport, replace: bool) -> None:
    d = prep.data
    if replace:
        report.replaced = session.execute(delete(m.Community)).rowcount
    for code, name in d.groupby("district_code", sort=True)["district_name"].first().items():
        stmt = pg_insert(m.District).values(code=code, name=name or code)
        session.execute(stmt.on_conflict_do_update(index_elements=["code"], set_={"name": stmt.excluded.name}) if name else stmt.on_conflict_do_nothing())
    for code, name in d.groupby("street_code", sort=True)["street_name"].first().items():
        stmt = pg_insert(m.Street).values(code=code, name=name or code, kind=township_kind(code[6:9]), district_code=code[:6])
        session.execute(stmt.on_conflict_do_update(index_elements=["code"], set_={"name": stmt.excluded.name}) if name else stmt.on_conflict_do_nothing())
    rows = _records(prep, ["code", "name", "street_code", "class", "urban_rural_code"], multi=True)
    for row in rows:
        row["class_"] = row.pop("class")
    table = m.Community.__table__
    for batch in _batches(rows):
        stmt = pg_insert(table).values([{("class" if k == "class_" else k): v for k, v in r.items()} for r in batch])
        stmt = stmt.on_conflict_do_update(
            index_elements=["code"],
            set_={c: stmt.excluded[c] for c in ("name", "street_code", "class", "urban_rural_code", "geom")} | {"updated_at": func.now()},
        ).returning(text("(xmax = 0) AS inserted"))
        flags = session.execute(stmt).scalars().all()
        report.inserted += sum(flags)
        report.updated += len(flags) - sum(flags)
    # Communities moved: every building's community may have changed.
    assign_buildings_to_communities(session)


def assign_buildings_to_communities(session: Session, ids: list[int] | None = None) -> None:
    """Set each building's community to the one holding its representative point (NULL for none)."""
    where = "WHERE b.id = ANY(:ids)" if ids is not None else ""
    session.execute(
        text(
            f"""UPDATE buildings b SET community_code = (
                    SELECT c.code FROM communities c
                    WHERE ST_Intersects(c.geom, ST_PointOnSurface(b.geom)) ORDER BY c.code LIMIT 1)
                {where}"""
        ),
        {"ids": ids} if ids is not None else {},
    )


def _write_buildings(session: Session, prep: Prepared, report: ImportReport, replace: bool) -> None:
    if replace:
        report.replaced = session.execute(delete(m.Building)).rowcount
    rows = _records(prep, ["building_id", "name", "use", "households", "population", "floors"], multi=False)
    for row in rows:
        row["source_id"] = row.pop("building_id")
    ids: list[int] = []
    keyed = [r for r in rows if r["source_id"] is not None]
    plain = [r for r in rows if r["source_id"] is None]
    table = m.Building.__table__
    for batch in _batches(keyed):
        stmt = pg_insert(table).values(batch)
        stmt = stmt.on_conflict_do_update(
            index_elements=["source_id"], set_={c: stmt.excluded[c] for c in ("name", "use", "households", "population", "floors", "geom")}
        ).returning(table.c.id, text("(xmax = 0) AS inserted"))
        for bid, new in session.execute(stmt).all():
            ids.append(bid)
            report.inserted += int(new)
            report.updated += int(not new)
    for batch in _batches(plain):
        ids += session.execute(insert(table).values(batch).returning(table.c.id)).scalars().all()
        report.inserted += len(batch)
    assign_buildings_to_communities(session, ids)
    outside = session.execute(
        select(m.Building.id, m.Building.source_id).where(m.Building.id.in_(ids), m.Building.community_code.is_(None)).order_by(m.Building.id)
    ).all()
    report.unplaced = [f"building {sid or f'#{bid}'} lies in no community (kept, without community)" for bid, sid in outside]


def _write_lines(session: Session, prep: Prepared, report: ImportReport, replace: bool) -> None:
    kind = prep.data["kind"].iat[0]
    if replace:
        report.replaced = session.execute(delete(m.LinearFeature).where(m.LinearFeature.kind == kind)).rowcount
    rows = _records(prep, ["kind", "name", "category"], multi=True)
    for batch in _batches(rows):
        session.execute(insert(m.LinearFeature.__table__).values(batch))
    report.inserted = len(rows)


def _write_dedicated(session: Session, prep: Prepared, report: ImportReport, replace: bool) -> None:
    if replace:
        report.replaced = session.execute(delete(m.DedicatedArea)).rowcount
    rows = _records(prep, ["name", "kind"], multi=True)
    for batch in _batches(rows):
        session.execute(insert(m.DedicatedArea.__table__).values(batch))
    report.inserted = len(rows)


def _write_layer(session: Session, prep: Prepared, report: ImportReport, replace: bool) -> None:
    # A department has one layer: importing it again replaces the old one whole.
    old = session.execute(select(m.DepartmentLayer).where(m.DepartmentLayer.department == prep.department)).scalar_one_or_none()
    if old is not None:
        report.replaced = session.execute(select(func.count()).where(m.DepartmentGrid.layer_id == old.id)).scalar_one()
        session.execute(delete(m.DepartmentLayer).where(m.DepartmentLayer.id == old.id))
    layer_id = session.execute(
        insert(m.DepartmentLayer).values(department=prep.department, source=prep.source, id_field=prep.id_field).returning(m.DepartmentLayer.id)
    ).scalar_one()
    rows = _records(prep, ["dept_grid_id", "name", "attributes"], multi=True)
    for row in rows:
        row["layer_id"] = layer_id
    for batch in _batches(rows):
        session.execute(insert(m.DepartmentGrid.__table__).values(batch))
    report.inserted = len(rows)

