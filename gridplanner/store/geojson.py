"""GeoJSON FeatureCollections built by PostGIS (ST_AsGeoJSON on whole rows)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session


def feature_collection(session: Session, select_sql: str, params: dict[str, Any] | None = None, *, id_column: str | None = None) -> dict:
    """Run ``select_sql`` (a SELECT with a ``geom`` column) and return its rows as a FeatureCollection.

    Every other column becomes a property; 7 decimals of a degree are about 1 cm.
    """
    id_arg = f", '{id_column}'" if id_column else ""
    sql = f"""SELECT COALESCE(json_agg(ST_AsGeoJSON(t.*, 'geom', 7{id_arg})::json), '[]'::json)
              FROM ({select_sql}) t"""
    features = session.execute(text(sql), params or {}).scalar_one()
    return {"type": "FeatureCollection", "features": features}
