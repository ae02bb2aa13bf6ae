"""Load the sample district (data/boundaries/) into the store in one transaction."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from gridplanner.importing import ImportReport, import_file

#: (kind, file, options) in load order: communities first so buildings find their community.
SAMPLE_FILES = [
    ("communities", "communities.geojson", {}),
    ("buildings", "buildings.gpkg", {}),
    ("roads", "roads.geojson", {}),
    ("rivers", "rivers.geojson", {}),
    ("dedicated", "dedicated.geojson", {}),
    ("layer", "departments/综治.gpkg", {"department": "综治"}),
    ("layer", "departments/城管.shp", {"department": "城管"}),
    ("layer", "departments/党建.fgb", {"department": "党建"}),
]


def load_sample(session: Session, directory: str | Path, *, actor: str = "sample") -> list[ImportReport]:
    directory = Path(directory)
    return [import_file(session, kind, directory / name, replace=True, actor=actor, **opts) for kind, name, opts in SAMPLE_FILES]
