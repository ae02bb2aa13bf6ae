"""GeoJSON features of a layer, paged and filtered by bbox, built by PostGIS (OGC API – Features items)."""

from __future__ import annotations

from sqlalchemy import text

from tiles.layers import Filters, Layer, bind

#: Density bins of the GeoJSON view when none is asked for, in EPSG:3857 metres.
DEFAULT_CELL_M = 500.0


def _feature_json(alias: str) -> str:
    # 7 decimals of a degree are about 1 cm.
    return f"""json_build_object('type', 'Feature', 'id', {alias}.id,
                                 'geometry', ST_AsGeoJSON({alias}.geom, 7)::json,
                                 'properties', to_jsonb({alias}) - 'geom' - 'id')"""


def _spatial(bbox):
    if bbox is None:
        return lambda alias: "TRUE"
    return lambda alias: f"ST_Intersects({alias}.geom, ST_MakeEnvelope(:west, :south, :east, :north, 4490))"


def items(
    connection,
    layer: Layer,
    filters: Filters,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    limit: int = 100,
    offset: int = 0,
    cell_m: float | None = None,
    context: dict | None = None,
) -> tuple[list[dict], int]:
    """One page of features ordered by id, and how many match in all."""
    params = bind(layer, filters, context) | {"limit": limit, "offset": offset}
    if bbox is not None:
        params |= dict(zip(("west", "south", "east", "north"), bbox))
    if layer.binned:
        params["cell"] = cell_m or DEFAULT_CELL_M
    inner = layer.query(filters, _spatial(bbox), params)
    row = connection.execute(
        text(
            f"""WITH f AS ({inner})
                SELECT (SELECT count(*) FROM f),
                       (SELECT COALESCE(json_agg({_feature_json('p')} ORDER BY p.id), '[]'::json)
                        FROM (SELECT * FROM f ORDER BY f.id LIMIT :limit OFFSET :offset) p)"""
        ),
        params,
    ).one()
    return row[1], row[0]


def item(connection, layer: Layer, feature_id: str, filters: Filters, *, cell_m: float | None = None, context: dict | None = None) -> dict | None:
    """One feature by id, or None."""
    params = bind(layer, filters, context) | {"fid": str(feature_id)}
    if layer.binned:
        params["cell"] = cell_m or DEFAULT_CELL_M
    inner = layer.query(filters, _spatial(None), params)
    return connection.execute(
        text(f"SELECT {_feature_json('f')} FROM ({inner}) f WHERE f.id::text = :fid LIMIT 1"), params
    ).scalar_one_or_none()


def extent(connection, layer: Layer) -> list[float] | None:
    """The lon/lat extent of the layer's table, or None when it is empty."""
    row = connection.execute(
        text(f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) AS e FROM {layer.extent_table}) q")
    ).one()
    return None if row[0] is None else [float(v) for v in row]
