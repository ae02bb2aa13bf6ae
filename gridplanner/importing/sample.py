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


#: The sample district's grid staff and hotline incidents, loaded once its grids are published (the roster
#: names grid codes, the incidents are placed in the published grids).
ROSTER_FILE, INCIDENTS_FILE = "staff.csv", "incidents.csv"


def load_sample_work(session: Session, directory: str | Path, *, actor: str = "sample"):
    """The roster (workers whose grid code the published plan lacks come in unassigned, and are listed) and
    the incidents of the sample district; the two import reports."""
    from gridplanner.incidents.hotline import import_hotline
    from gridplanner.staffing.roster import import_roster

    directory = Path(directory)
    roster = import_roster(session, (directory / ROSTER_FILE).read_bytes(), ROSTER_FILE, unknown_grid="unassign", actor=actor)
    incidents = import_hotline(session, directory / INCIDENTS_FILE, actor=actor)
    return roster, incidents
