"""Vector tiles of the map layers (Mapbox Vector Tiles made by PostGIS) and their TileJSON, with ETags."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from gridplanner.api.dependencies import SessionDep
from gridplanner.store.database import database_url
from tiles import cache, mvt
from tiles.features import extent
from gridplanner import maplayers
from gridplanner.maplayers import LAYERS, Filters, check_filters, get_layer
from tiles.layers import Layer
from tiles.tilemath import Tile

router = APIRouter(prefix="/tiles", tags=["tiles"])
CHINA_TIME = ZoneInfo("Asia/Shanghai")
MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
LAYER_LIST = ", ".join(LAYERS)
#: The ``{layer}`` of a tile or collection URL.
LayerParam = Annotated[str, Path(description=f"one of: {LAYER_LIST}", examples=["grids"])]


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()


def _china_time(t: datetime | None) -> datetime | None:
    # A time without offset is read as China Standard Time, the clock the data is kept by.
    return t.replace(tzinfo=CHINA_TIME) if t is not None and t.tzinfo is None else t


def layer_filters(
    plan: Annotated[int | None, Query(gt=0, description="plan id (grid layers; plan_diff: the draft). Default: the published plan / newest draft", examples=[3])] = None,
    version: Annotated[int | None, Query(gt=0, description="published version number of the plan (grid layers)", examples=[2])] = None,
    status: Annotated[str | None, Query(description="comma-separated statuses: incident status; grids size_status; staffing_status; plan_diff change", examples=["受理,派遣"])] = None,
    category: Annotated[str | None, Query(description="comma-separated incident categories", examples=["市容环境"])] = None,
    start: Annotated[datetime | None, Query(description="incidents reported at or after (ISO 8601; no offset: UTC+8)", examples=["2026-01-01T00:00:00+08:00"])] = None,
    end: Annotated[datetime | None, Query(description="incidents reported before (ISO 8601; no offset: UTC+8)", examples=["2026-02-01T00:00:00+08:00"])] = None,
    department: Annotated[str | None, Query(max_length=100, description="department of the departments layer", examples=["城管"])] = None,
) -> Filters:
    return Filters(plan=plan, version=version, status=_csv(status), category=_csv(category), start=_china_time(start), end=_china_time(end), department=department)


FiltersDep = Annotated[Filters, Depends(layer_filters)]


def resolve_layer(name: str, filters: Filters) -> Layer:
    # UnknownLayer: 404, FilterError: 400 (api.errors).
    layer = get_layer(name)
    check_filters(layer, filters)
    return layer


def check_plan(session: Session, filters: Filters) -> None:
    """A plan or version asked for by number must exist (the default views may be empty)."""
    if filters.plan is not None and session.execute(text("SELECT 1 FROM grid_plans WHERE id = :p"), {"p": filters.plan}).first() is None:
        raise HTTPException(404, detail=f"no plan {filters.plan}")
    if filters.version is not None and session.execute(text("SELECT 1 FROM grid_plans WHERE version = :v"), {"v": filters.version}).first() is None:
        raise HTTPException(404, detail=f"no published plan version {filters.version}")


@lru_cache(maxsize=8)
def _libpq_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _ensure_listener() -> None:
    # Called on every tile request: the URL is parsed once per database, not per request.
    maplayers.listen(_libpq_dsn(database_url()))


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


class VectorLayer(BaseModel):
    id: str
    description: str
    fields: dict[str, str]
    minzoom: int
    maxzoom: int


class TileJSON(BaseModel):
    tilejson: str = "3.0.0"
    name: str
    description: str
    scheme: str = "xyz"
    tiles: list[str] = Field(examples=[["http://127.0.0.1:8000/api/v1/tiles/grids/{z}/{x}/{y}.pbf"]])
    minzoom: int
    maxzoom: int
    bounds: list[float] = Field(examples=[[120.1, 30.2, 120.3, 30.4]])
    center: list[float] | None = None
    vector_layers: list[VectorLayer]


@router.get(
    "/{layer}.json",
    response_model=TileJSON,
    summary="TileJSON of a layer",
    responses={404: {"description": "unknown layer or plan"}, 400: {"description": "a filter the layer does not take"}},
)
def tilejson(
    request: Request,
    session: SessionDep,
    filters: FiltersDep,
    layer: LayerParam,
) -> TileJSON:
    """TileJSON 3.0 for ``layer``; the tile URL is on the host the request came to and carries its filters."""
    lay = resolve_layer(layer, filters)
    check_plan(session, filters)
    query = urlencode(filters.query_string())
    # The tiles live next to this document, on the host and prefix the request came by.
    base = str(request.url.replace(query="")).removesuffix(f"/{layer}.json")
    url = f"{base}/{lay.name}/{{z}}/{{x}}/{{y}}.pbf"
    bounds = extent(session, lay) or [-180.0, -85.0511, 180.0, 85.0511]
    return TileJSON(
        name=lay.title,
        description=lay.description,
        tiles=[url + (f"?{query}" if query else "")],
        minzoom=lay.minzoom,
        maxzoom=lay.maxzoom,
        bounds=bounds,
        center=[(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, max(lay.minzoom, 12)],
        vector_layers=[VectorLayer(id=lay.name, description=lay.description, fields=lay.fields, minzoom=lay.minzoom, maxzoom=lay.maxzoom)],
    )


def cached_tile(session: Session, lay: Layer, filters: Filters, address: Tile) -> tuple[cache.CachedTile, str]:
    """The tile from the process's cache, or rendered by PostGIS and cached; and "hit" or "miss"."""
    _ensure_listener()
    key = (lay.name, address.z, address.x, address.y, filters.key())
    entry = cache.TILE_CACHE.get(key)
    if entry is not None:
        return entry, "hit"
    check_plan(session, filters)
    generation = cache.TILE_CACHE.generation(lay.name)
    data = mvt.render(session, lay, filters, address)
    due = mvt.next_change(session, lay, filters, address)
    entry = cache.CachedTile(data, cache.etag_of(data), address.lonlat_bounds(mvt.BUFFER / mvt.EXTENT), due.timestamp() if due else None)
    cache.TILE_CACHE.put(key, entry, generation)
    return entry, "miss"


@router.get(
    "/{layer}/{z}/{x}/{y}.pbf",
    summary="A vector tile",
    response_class=Response,
    responses={
        200: {"content": {MVT_MEDIA_TYPE: {}}, "description": "the tile (empty body when nothing is in it); ETag is a digest of its bytes"},
        304: {"description": "If-None-Match named the tile's current ETag"},
        400: {"description": "a tile outside the pyramid or a filter the layer does not take"},
        404: {"description": "unknown layer or plan"},
    },
)
def tile(
    request: Request,
    session: SessionDep,
    filters: FiltersDep,
    layer: LayerParam,
    z: Annotated[int, Path(description="zoom 0–24", examples=[14])],
    x: Annotated[int, Path(description="column 0..2^z-1", examples=[13661])],
    y: Annotated[int, Path(description="row 0..2^z-1 (XYZ, from the north)", examples=[6765])],
) -> Response:
    """Mapbox Vector Tile of ``layer`` at z/x/y (EPSG:3857 XYZ), one MVT layer named like the layer.

    Served from the in-process cache when it holds the tile; ``If-None-Match`` with the current ETag gets 304.
    ``X-Tile-Cache`` says ``hit`` or ``miss``.
    """
    lay = resolve_layer(layer, filters)
    address = Tile(z, x, y)  # TileError: 400 (api.errors)
    entry, state = cached_tile(session, lay, filters, address)
    headers = {"ETag": entry.etag, "Cache-Control": "no-cache", "X-Tile-Cache": state}
    if _etag_matches(request.headers.get("if-none-match"), entry.etag):
        return Response(status_code=304, headers=headers)
    return Response(entry.data, media_type=MVT_MEDIA_TYPE, headers=headers)
