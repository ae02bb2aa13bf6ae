"""The map layers as GeoJSON in the style of OGC API – Features (collections, items with bbox and paging)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from gridplanner.api.dependencies import SessionDep
from gridplanner.api.params import OffsetParam, limit_param, parse_bbox
from gridplanner.api.routes.tiles import FiltersDep, LayerParam, check_plan, resolve_layer
from tiles import features
from gridplanner.maplayers import LAYERS, Filters, get_layer
from tiles.layers import Layer

router = APIRouter(prefix="/collections", tags=["collections (OGC API – Features)"])
GEOJSON = "application/geo+json"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CGCS2000 = "http://www.opengis.net/def/crs/EPSG/0/4490"
MAX_LIMIT = 10_000

FEATURE_COLLECTION_EXAMPLE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": 17,
            "geometry": {"type": "Polygon", "coordinates": [[[120.1, 30.27], [120.105, 30.27], [120.105, 30.28], [120.1, 30.27]]]},
            "properties": {"code": "330106001001001", "households": 412, "population": 1190, "size_status": "within"},
        }
    ],
    "numberMatched": 240,
    "numberReturned": 1,
    "links": [{"rel": "next", "type": GEOJSON, "href": "http://127.0.0.1:8000/api/v1/collections/grids/items?limit=1&offset=1"}],
}


def _base(request: Request) -> str:
    return str(request.url_for("collections")).rstrip("/")


def _collection(request: Request, session: Session, layer: Layer) -> dict:
    base = _base(request)
    bbox = features.extent(session, layer)
    out = {
        "id": layer.name,
        "title": layer.title,
        "description": layer.description,
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CGCS2000,
        "properties": layer.fields,
        "filters": list(layer.filters),
        "links": [
            {"rel": "self", "type": "application/json", "href": f"{base}/{layer.name}"},
            {"rel": "items", "type": GEOJSON, "href": f"{base}/{layer.name}/items"},
            {"rel": "tiles", "type": "application/json", "title": "TileJSON", "href": base.removesuffix("/collections") + f"/tiles/{layer.name}.json"},
        ],
    }
    if bbox is not None:
        out["extent"] = {"spatial": {"bbox": [bbox], "crs": CRS84}}
    return out


@router.get("", summary="The layers as feature collections")
def collections(request: Request, session: SessionDep) -> dict:
    """Every layer with its extent, properties, filters and links to its items and TileJSON.

    Coordinates are CGCS2000 lon/lat (EPSG:4490), which agrees with CRS84 (WGS84) to well under a metre.
    """
    return {
        "links": [{"rel": "self", "type": "application/json", "href": _base(request)}],
        "collections": [_collection(request, session, layer) for layer in LAYERS.values()],
    }


@router.get("/{layer}", summary="One collection", responses={404: {"description": "unknown layer"}})
def collection(request: Request, session: SessionDep, layer: LayerParam) -> dict:
    lay = get_layer(layer)  # UnknownLayer: 404 (api.errors)
    return _collection(request, session, lay)


def _cell(layer: Layer, cell: float | None) -> float | None:
    if cell is not None and not layer.binned:
        raise HTTPException(400, detail=f"layer {layer.name!r} takes no cell (only incident_density does)")
    return cell


@router.get(
    "/{layer}/items",
    summary="Features of a layer (GeoJSON)",
    response_class=JSONResponse,
    responses={
        200: {"content": {GEOJSON: {"example": FEATURE_COLLECTION_EXAMPLE}}, "description": "a page of features ordered by id, with next/prev links"},
        400: {"description": "bad bbox, a filter the layer does not take"},
        404: {"description": "unknown layer or plan"},
    },
)
def items(
    request: Request,
    session: SessionDep,
    filters: FiltersDep,
    layer: LayerParam,
    bbox: Annotated[str | None, Query(description="west,south,east,north in degrees (lon/lat)", examples=["120.10,30.26,120.12,30.28"])] = None,
    limit: limit_param(MAX_LIMIT, "features") = 100,
    offset: OffsetParam = 0,
    cell: Annotated[float | None, Query(gt=0, le=100_000, description="incident_density: bin size in EPSG:3857 metres (default 500)")] = None,
) -> JSONResponse:
    """A page of ``layer``'s features as a GeoJSON FeatureCollection with ``numberMatched``, ``numberReturned``
    and ``next``/``prev`` links. The grid layers show the published plan unless ``plan`` or ``version`` says
    otherwise; the grid layer is ``grids`` and carries ``code`` in its properties."""
    lay = resolve_layer(layer, filters)
    box = parse_bbox(bbox, status=400)
    check_plan(session, filters)
    page, matched = features.items(session, lay, filters, bbox=box, limit=limit, offset=offset, cell_m=_cell(lay, cell))
    links = [
        {"rel": "self", "type": GEOJSON, "href": str(request.url)},
        {"rel": "collection", "type": "application/json", "href": f"{_base(request)}/{lay.name}"},
    ]
    if offset + len(page) < matched:
        links.append({"rel": "next", "type": GEOJSON, "href": str(request.url.include_query_params(offset=offset + limit, limit=limit))})
    if offset > 0:
        links.append({"rel": "prev", "type": GEOJSON, "href": str(request.url.include_query_params(offset=max(0, offset - limit), limit=limit))})
    body = {
        "type": "FeatureCollection",
        "features": page,
        "numberMatched": matched,
        "numberReturned": len(page),
        "timeStamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "links": links,
    }
    return JSONResponse(body, media_type=GEOJSON)


@router.get(
    "/{layer}/items/{feature_id}",
    summary="One feature (GeoJSON)",
    response_class=JSONResponse,
    responses={200: {"content": {GEOJSON: {}}}, 404: {"description": "unknown layer, plan or feature"}},
)
def item(
    request: Request,
    session: SessionDep,
    filters: FiltersDep,
    layer: LayerParam,
    feature_id: Annotated[str, Path(max_length=64, description="the feature's id (grid layers: the grid's id)", examples=["17"])],
    cell: Annotated[float | None, Query(gt=0, le=100_000, description="incident_density: bin size in EPSG:3857 metres")] = None,
) -> JSONResponse:
    """One feature by id; grid layers look in the published plan unless ``plan`` or ``version`` is given."""
    lay = resolve_layer(layer, filters)
    check_plan(session, filters)
    feature = features.item(session, lay, feature_id, filters, cell_m=_cell(lay, cell))
    if feature is None:
        view = ", ".join(f"{k}={v}" for k, v in Filters.query_string(filters).items()) or "the default view"
        raise HTTPException(404, detail=f"no feature {feature_id!r} in layer {lay.name!r} ({view})")
    feature["links"] = [
        {"rel": "self", "type": GEOJSON, "href": str(request.url)},
        {"rel": "collection", "type": "application/json", "href": f"{_base(request)}/{lay.name}"},
    ]
    return JSONResponse(feature, media_type=GEOJSON)
