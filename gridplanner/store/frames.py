"""Store tables read as GeoDataFrames (EPSG:4490), for the pure planning and merging functions."""

from __future__ import annotations

import geopandas as gpd
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridplanner.store.models import SRID


def read_frame(session: Session, sql: str, params: dict | None = None) -> gpd.GeoDataFrame:
    """Rows of ``sql`` (with a ``geom`` column) as a GeoDataFrame; empty frames keep the CRS."""
    return gpd.read_postgis(text(sql), session.connection(), geom_col="geom", params=params or {}, crs=SRID)


def communities_frame(session: Session, codes: list[str] | None = None) -> gpd.GeoDataFrame:
    return read_frame(
        session,
        """SELECT code, name, street_code, class AS class, urban_rural_code, geom FROM communities
           WHERE CAST(:codes AS text[]) IS NULL OR code = ANY(CAST(:codes AS text[])) ORDER BY code""",
        {"codes": codes},
    )


def buildings_frame(session: Session, codes: list[str] | None = None) -> gpd.GeoDataFrame:
    """Buildings of the given communities, and those in none (so planning can list them)."""
    return read_frame(
        session,
        """SELECT id, source_id AS building_id, households, population, floors, use, community_code, geom FROM buildings
           WHERE CAST(:codes AS text[]) IS NULL OR community_code = ANY(CAST(:codes AS text[])) OR community_code IS NULL
           ORDER BY id""",
        {"codes": codes},
    )


def lines_frame(session: Session, kind: str) -> gpd.GeoDataFrame:
    return read_frame(session, "SELECT id, name, category, geom FROM linear_features WHERE kind = :kind ORDER BY id", {"kind": kind})


def dedicated_frame(session: Session) -> gpd.GeoDataFrame:
    return read_frame(session, "SELECT id, name, kind, geom FROM dedicated_areas ORDER BY id")


def department_layers_frames(session: Session) -> dict[str, gpd.GeoDataFrame]:
    names = session.execute(text("SELECT department FROM department_layers ORDER BY department")).scalars().all()
    return {
        name: read_frame(
            session,
            """SELECT g.dept_grid_id, g.name, g.geom FROM department_grids g JOIN department_layers l ON l.id = g.layer_id
               WHERE l.department = :d ORDER BY g.id""",
            {"d": name},
        )
        for name in names
    }
