"""Mapbox Vector Tiles made by PostGIS: geometry moved to the tile's 4096 grid in SQL, ST_AsMVT encodes the layer.

Polygons are snapped vertex by vertex to the tile's integer grid and clipped, and nothing else: a vertex shared by
two polygons lands on the same tile pixel in both, so shared edges stay shared at every zoom, and vertices closer
than a pixel merge, which is the simplification per zoom. ST_AsMVTGeom is not used for polygons because it also
simplifies each polygon on its own (Douglas–Peucker at half a pixel, before snapping), which opened half-pixel
slivers of daylight between wiggly neighbours at z10 in the tests; PostGIS 3.3 has no ST_CoverageSimplify. Points
go through ST_AsMVTGeom.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlalchemy import TextClause, text

from tiles.layers import Filters, Layer, bind
from tiles.tilemath import Tile

EXTENT = 4096
#: Pixels of the 4096 grid drawn beyond the tile edge, so strokes do not show seams between tiles.
BUFFER = 64
#: Density bins per tile width.
BINS_PER_TILE = 128


#: Pixels a polygon's minimum clearance must span for its snapped outline to be valid without a check. Snapping
#: moves each vertex by at most half a pixel diagonal (√2/2), so a vertex-to-segment distance shrinks by at most √2:
#: an outline with a wider clearance cannot cross or touch itself once snapped.
CLEARANCE_PX = 2.0
#: The buffered tile, as a polygon for the ``@`` (bounding box inside) test and as a box for clipping.
_BOX = f"ST_MakeEnvelope({-BUFFER}, {-BUFFER}, {EXTENT + BUFFER}, {EXTENT + BUFFER})"
_BOX2D = f"ST_MakeBox2D(ST_Point({-BUFFER}, {-BUFFER}), ST_Point({EXTENT + BUFFER}, {EXTENT + BUFFER}))"


def _valid(geom: str) -> str:
    return f"CASE WHEN ST_IsValid({geom}, 0) THEN {geom} ELSE ST_MakeValid({geom}, 'method=structure') END"


def polygon_rows(names: list[str], source: str, mercator: str, clearance: str) -> str:
    """Rows of columns ``names`` and ``geom``: each polygon of ``source`` (EPSG:3857 outline ``mercator``, its minimum
    clearance in metres ``clearance``) in tile pixels (y down), snapped per vertex, clipped to the buffered tile,
    exterior rings clockwise on screen as the MVT spec wants (counter-clockwise in PostGIS's y-up sense).

    A snapped outline may cross itself (vertices closer than a pixel, or a polygon valid in lon/lat but not once
    projected), and GEOS's rectangle clipping of an invalid ring may return the tile minus the polygon, so it is
    made valid before clipping, and again after the clipped edges are snapped. Validity is only tested where it
    can fail: not for an outline whose clearance spans CLEARANCE_PX pixels, and the clip and second pass only for
    polygons reaching past the buffered tile. Each step is its own sub-query (``OFFSET 0`` keeps PostgreSQL from
    merging them), so no expression is evaluated twice for one row.
    """
    def columns(alias: str) -> str:
        return ", ".join(f'{alias}."{c}"' for c in names)

    return f"""SELECT {columns("p")}, COALESCE(p.done, ST_ForcePolygonCCW(ST_CollectionExtract({_valid("p.cut")}, 3))) AS geom
        FROM (SELECT {columns("s")},
                     CASE WHEN s.inside AND s.valid THEN ST_ForcePolygonCCW(s.px) END AS done,
                     CASE WHEN NOT (s.inside AND s.valid) THEN ST_SnapToGrid(ST_ClipByBox2D(
                         CASE WHEN s.valid THEN s.px ELSE ST_MakeValid(s.px, 'method=structure') END, {_BOX2D}), 1) END AS cut
              FROM (SELECT {columns("a")}, a.px, a.px @ {_BOX} AS inside, a.fast OR ST_IsValid(a.px, 0) AS valid
                    FROM (SELECT {columns("f")}, ST_SnapToGrid(ST_Affine({mercator}, :sx, 0, 0, -:sx, :tx, :ty), 1) AS px,
                                 {clearance} * :sx > {CLEARANCE_PX} AS fast
                          FROM ({source}) f OFFSET 0) a OFFSET 0) s OFFSET 0) p"""


def envelope_predicate(alias: str) -> str:
    return f"{alias}.geom && ST_MakeEnvelope(:west, :south, :east, :north, 4490)"


def tile_sql(layer: Layer, filters: Filters, tile: Tile, context: dict | None = None) -> tuple[str, dict]:
    """The SQL (and its parameters) returning the tile of ``layer`` as one bytea."""
    west, south, east, north = tile.lonlat_bounds(BUFFER / EXTENT)
    params = {**bind(layer, filters, context), "west": west, "south": south, "east": east, "north": north, "z": tile.z, "x": tile.x, "y": tile.y, "layer_name": layer.name}
    if layer.binned:
        params["cell"] = tile.width_m / BINS_PER_TILE
    # Layers with ``mercator`` also select their table's stored EPSG:3857 outline and clearance.
    inner = layer.query(filters, envelope_predicate, params, mercator=True) if layer.mercator else layer.query(filters, envelope_predicate, params)
    names = ([layer.id_column] if layer.id_column else []) + list(layer.fields)
    id_arg = f", '{layer.id_column}'" if layer.id_column else ""
    if layer.geometry == "Polygon":
        xmin, _, xmax, ymax = tile.mercator_bounds()
        scale = EXTENT / (xmax - xmin)
        params |= {"sx": scale, "tx": -xmin * scale, "ty": ymax * scale}
        mercator, clearance = ("f.geom_3857", "f.clearance_3857") if layer.mercator else ("ST_Transform(f.geom, 3857)", "0")
        rows = polygon_rows(names, inner, mercator, clearance)
    else:
        select = ", ".join(f'f."{c}"' for c in names)
        rows = f"SELECT {select}, ST_AsMVTGeom(ST_Transform(f.geom, 3857), ST_TileEnvelope(:z, :x, :y), {EXTENT}, {BUFFER}, true) AS geom FROM ({inner}) f"
    # OFFSET 0: the geometry is computed once per row, not again for each test of the WHERE clause.
    sql = f"""SELECT ST_AsMVT(t, :layer_name, {EXTENT}, 'geom'{id_arg})
              FROM ({rows} OFFSET 0) t
              WHERE t.geom IS NOT NULL AND NOT ST_IsEmpty(t.geom)"""
    return sql, params


@lru_cache(maxsize=512)
def _statement(sql: str) -> TextClause:
    # The SQL of a layer differs by the filters used, not by the tile: parse its bind names once.
    return text(sql)


_NO_JIT = text("SET LOCAL jit = off")


def render(connection, layer: Layer, filters: Filters, tile: Tile, context: dict | None = None) -> bytes:
    """The tile's bytes (empty when nothing is in it); ``connection`` is a SQLAlchemy Connection or Session."""
    sql, params = tile_sql(layer, filters, tile, context)
    # PostGIS functions carry high planner costs, so a dense tile's plan passes jit_above_cost: compiling it
    # took 40 ms, several times what running it takes. For this transaction only.
    connection.execute(_NO_JIT)
    data = connection.execute(_statement(sql), params).scalar_one()
    return bytes(data) if data is not None else b""


def next_change(connection, layer: Layer, filters: Filters, tile: Tile, context: dict | None = None) -> datetime | None:
    """When the tile's attributes next change by the clock alone (the layer's ``expiry``), if ever."""
    if layer.expiry is None:
        return None
    west, south, east, north = tile.lonlat_bounds(BUFFER / EXTENT)
    params = {**bind(layer, filters, context), "west": west, "south": south, "east": east, "north": north}
    return connection.execute(text(layer.expiry(filters, envelope_predicate)), params).scalar_one()
