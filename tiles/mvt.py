"""Mapbox Vector Tiles made by PostGIS: geometry moved to the tile's 4096 grid in SQL, ST_AsMVT encodes the layer.

Polygons are snapped vertex by vertex to the tile's integer grid and clipped, and nothing else: a vertex shared by
two grids lands on the same tile pixel in both, so shared edges stay shared at every zoom, and vertices closer
than a pixel merge, which is the simplification per zoom. ST_AsMVTGeom is not used for polygons because it also
simplifies each polygon on its own (Douglas–Peucker at half a pixel, before snapping), which opened half-pixel
slivers of daylight between wiggly neighbours at z10 in the tests; PostGIS 3.3 has no ST_CoverageSimplify. Points
go through ST_AsMVTGeom.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from tiles.layers import Filters, Layer, bind
from tiles.tilemath import Tile

EXTENT = 4096
#: Pixels of the 4096 grid drawn beyond the tile edge, so strokes do not show seams between tiles.
BUFFER = 64
#: Density bins per tile width.
BINS_PER_TILE = 128


#: EPSG:4490 polygon -> tile pixels (y down), snapped per vertex, clipped to the buffered tile, exterior rings
#: clockwise on screen as the MVT spec wants (counter-clockwise in PostGIS's y-up sense). The snapped polygon is
#: made valid BEFORE clipping: a polygon valid in lon/lat can self-intersect once projected and snapped, and
#: GEOS's rectangle clipping of an invalid ring may return the tile minus the polygon (a grid painted over a
#: whole tile; tests/data/grid_invalid_in_mercator.hexwkb is one such grid).
POLYGON_TO_TILE = f"""ST_ForcePolygonCCW(ST_CollectionExtract(ST_MakeValid(ST_SnapToGrid(ST_ClipByBox2D(
        ST_MakeValid(ST_SnapToGrid(ST_Affine(ST_Transform({{geom}}, 3857), :sx, 0, 0, -:sx, :tx, :ty), 1), 'method=structure'),
        ST_MakeBox2D(ST_Point({-BUFFER}, {-BUFFER}), ST_Point({EXTENT + BUFFER}, {EXTENT + BUFFER}))), 1), 'method=structure'), 3))"""


def envelope_predicate(alias: str) -> str:
    return f"{alias}.geom && ST_MakeEnvelope(:west, :south, :east, :north, 4490)"


def tile_sql(layer: Layer, filters: Filters, tile: Tile, context: dict | None = None) -> tuple[str, dict]:
    """The SQL (and its parameters) returning the tile of ``layer`` as one bytea."""
    west, south, east, north = tile.lonlat_bounds(BUFFER / EXTENT)
    params = {**bind(filters, context), "west": west, "south": south, "east": east, "north": north, "z": tile.z, "x": tile.x, "y": tile.y, "layer_name": layer.name}
    if layer.binned:
        params["cell"] = tile.width_m / BINS_PER_TILE
    inner = layer.query(filters, envelope_predicate, params)
    columns = ([layer.id_column] if layer.id_column else []) + list(layer.fields)
    select = ", ".join(f'f."{c}"' for c in columns)
    id_arg = f", '{layer.id_column}'" if layer.id_column else ""
    if layer.geometry == "Polygon":
        xmin, _, xmax, ymax = tile.mercator_bounds()
        scale = EXTENT / (xmax - xmin)
        params |= {"sx": scale, "tx": -xmin * scale, "ty": ymax * scale}
        geom = POLYGON_TO_TILE.format(geom="f.geom")
    else:
        geom = f"ST_AsMVTGeom(ST_Transform(f.geom, 3857), ST_TileEnvelope(:z, :x, :y), {EXTENT}, {BUFFER}, true)"
    sql = f"""SELECT ST_AsMVT(t, :layer_name, {EXTENT}, 'geom'{id_arg})
              FROM (SELECT {select}, {geom} AS geom FROM ({inner}) f) t
              WHERE t.geom IS NOT NULL AND NOT ST_IsEmpty(t.geom)"""
    return sql, params


def render(connection, layer: Layer, filters: Filters, tile: Tile, context: dict | None = None) -> bytes:
    """The tile's bytes (empty when nothing is in it); ``connection`` is a SQLAlchemy Connection or Session."""
    sql, params = tile_sql(layer, filters, tile, context)
    data = connection.execute(text(sql), params).scalar_one()
    return bytes(data) if data is not None else b""


def next_change(connection, layer: Layer, filters: Filters, tile: Tile, context: dict | None = None) -> datetime | None:
    """When the tile's attributes next change by the clock alone (an open incident falling due), if ever."""
    if layer.expiry is None:
        return None
    west, south, east, north = tile.lonlat_bounds(BUFFER / EXTENT)
    params = {**bind(filters, context), "west": west, "south": south, "east": east, "north": north}
    return connection.execute(text(layer.expiry(filters, envelope_predicate)), params).scalar_one()
