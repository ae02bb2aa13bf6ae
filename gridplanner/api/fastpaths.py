"""The two hottest reads answered before the framework's per-request machinery, when they can be: the single
lookup other systems call for every case they route, and vector tiles already in the tile cache. Through
routing, dependencies and validation a lookup cost about 1.9 ms of CPU and a cached tile 1.5 ms, for an answer
that was already in memory. As the outermost ASGI layer, a request is answered here when everything below
holds, and otherwise passed on untouched to the app, which answers it as before (errors included).

``GET /api/v1/grids/lookup``, from the in-memory answers of the published plan
(:mod:`gridplanner.lookup.answers`), when:

* an ``X-API-Key`` this process has resolved recently (:data:`gridplanner.auth.keycache.KEYS`) with the
  ``lookup`` scope, and the rate limiter lets it through (a refusal is left to the app, which says why);
* only ``lon``, ``lat`` and ``crs`` in the query, all valid (``plan=`` goes to the SQL);
* the answers are ready and kept current (their listener is connected);
* the app's database session is not replaced (tests read through their own open transaction).

The bytes are those the route sends: PostgreSQL wrote the same JSON expression for both.

``POST /api/v1/grids/lookup`` with ``[lon, lat]`` pairs (optionally ``?format=compact``), under the same
conditions, from the same answers: the same JSON as the route (objects with ``id`` go to the app).

``GET /api/v1/tiles/{layer}/{z}/{x}/{y}.pbf`` without a query string, for the same kind of key with the
``read`` scope: from the process's tile cache (:data:`tiles.cache.TILE_CACHE`, invalidated as before) when it
holds the tile, else rendered and cached as the route does (:func:`gridplanner.api.routes.tiles.cached_tile`)
in a worker thread; the tile's bytes with its ETag, or 304 when ``If-None-Match`` names it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from urllib.parse import parse_qsl

import numpy as np
import orjson

from gis.webcoords import to_wgs84_point
from gridplanner.api.errors import localized, request_language
from gridplanner.api.routes.grids import _out_of_range
from gridplanner.api.routes.tiles import MVT_MEDIA_TYPE, _etag_matches, cached_tile
from gridplanner.auth.accounts import sha256
from gridplanner.auth.keycache import KEYS
from gridplanner.lookup import answers as lookup_answers
from gridplanner.lookup import reads as lookup_reads
from gridplanner.lookup.service import BATCH_LIMIT, to_cgcs2000
from gridplanner.maplayers import Filters, get_layer
from gridplanner.store.database import new_session
from tiles.cache import TILE_CACHE
from tiles.layers import UnknownLayer
from tiles.tilemath import Tile, TileError

log = logging.getLogger(__name__)
PATH = "/api/v1/grids/lookup"
TILES = "/api/v1/tiles/"
_SYSTEMS = {"wgs84", "cgcs2000", "gcj02", "bd09"}
_PARAMS = {"lon", "lat", "crs"}


class FastPaths:
    """ASGI middleware: see the module docstring. ``api`` is the FastAPI app (its overrides and limiter)."""

    def __init__(self, app, api):
        self.app = app
        self.api = api

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == PATH and not self.api.dependency_overrides:
            answered, receive = await self._batch(scope, receive)
            if answered is not None:
                await _send(send, *answered)
                return
        elif scope["type"] == "http" and scope["method"] == "GET" and not self.api.dependency_overrides:
            path = scope["path"]
            answered = self._lookup(scope) if path == PATH else await self._tile(scope, path) if path.startswith(TILES) else None
            if answered is not None:
                await _send(send, *answered)
                return
        await self.app(scope, receive, send)

    def _principal(self, scope, scope_needed: str):
        """The remembered principal of the request's API key when it holds ``scope_needed``; None for anything
        the app must decide."""
        key = _header(scope, b"x-api-key")
        if key is None:
            return None
        principal = KEYS.get(sha256(key))
        if principal is None or not principal.has_scope(scope_needed) or getattr(self.api.state, "rate_limiter", None) is None:
            return None
        return principal

    def _admitted(self, principal) -> bool:
        """The rate limit lets ``principal`` through (one token), taken only for a request answered here: a
        refusal, or a request passed on, is left to the app, which counts it once."""
        return self.api.state.rate_limiter.take(principal.name) == 0

    def _lookup(self, scope) -> tuple[int, list, bytes] | None:
        query = _query(scope["query_string"])
        principal = self._principal(scope, "lookup") if query is not None else None
        answers = lookup_answers.current(lookup_reads.conninfo()) if principal is not None else None
        if answers is None or not self._admitted(principal):
            return None
        lon, lat, crs = query
        x, y = to_wgs84_point(lon, lat, crs)
        echo = {"lon": lon, "lat": lat, "crs": crs, "lon_cgcs2000": round(x, 8), "lat_cgcs2000": round(y, 8)}
        found = answers.answer(x, y, echo)
        if found is None:
            # As the route's JSONResponse renders it.
            body = localized(lookup_answers.NO_GRID, request_language(scope["headers"]), lon=lon, lat=lat, crs=crs)
            return 404, _JSON, json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        return 200, _JSON, found.encode()

    async def _batch(self, scope, receive):
        """A batch of ``[lon, lat]`` pairs answered from memory: parsed by orjson into one array, converted,
        probed and written without a step per point in Python. Returns the answer (or None) and the
        ``receive`` the app must use (the body replayed when it was read)."""
        fmt = _batch_format(scope["query_string"])
        length = _header(scope, b"content-length")
        principal = self._principal(scope, "lookup")
        if (fmt is None or "json" not in (_header(scope, b"content-type") or "") or length is None or not length.isdigit()
                or int(length) > _MAX_BATCH_BYTES or principal is None):
            return None, receive
        answers = lookup_answers.current(lookup_reads.conninfo())
        if answers is None:
            return None, receive
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return None, _replay(b"".join(chunks), message)
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        answer = _batch_answer(answers, body, fmt)
        if answer is None or not self._admitted(principal):
            return None, _replay(body)
        return answer, receive

    async def _tile(self, scope, path: str) -> tuple[int, list, bytes] | None:
        if scope["query_string"]:
            return None
        address = _tile_address(path[len(TILES):])
        if address is None:
            return None
        principal = self._principal(scope, "read")
        if principal is None:
            return None
        key = (*address, _NO_FILTERS)
        entry, state = TILE_CACHE.get(key), "hit"
        if entry is None:
            # A miss: rendered as the route renders it (routes.tiles.cached_tile), on a session of its own in a
            # worker thread, without the routing, dependencies and validation around it. Anything unusual
            # (an unknown layer, a tile outside the pyramid, a database error) is left to the app to answer.
            try:
                layer, tile = get_layer(address[0]), Tile(*address[1:])
            except (UnknownLayer, TileError):
                return None
            if not self._admitted(principal):
                return None
            entry = await asyncio.to_thread(_render, layer, tile)
            if entry is None:
                return None
            state = "miss"
        elif not self._admitted(principal):
            return None
        headers = [(b"etag", entry.etag.encode()), (b"cache-control", b"no-cache"), (b"x-tile-cache", state.encode())]
        if _etag_matches(_header(scope, b"if-none-match"), entry.etag):
            return 304, headers, b""
        return 200, [(b"content-type", MVT_MEDIA_TYPE.encode()), *headers], entry.data


def _render(layer, tile):
    """The tile rendered and cached (or found cached), None when anything went wrong (logged; the app then
    answers the request and says what)."""
    session = new_session()
    try:
        return cached_tile(session, layer, Filters(), tile)[0]
    except Exception:
        log.exception("rendering tile %s %s outside the app failed; the app answers it", layer.name, tile)
        return None
    finally:
        session.close()


_JSON = [(b"content-type", b"application/json")]
#: Larger bodies go to the app (10,000 pairs of full-precision numbers take about 400 kB).
_MAX_BATCH_BYTES = 2 * 2**20


async def _send(send, status: int, headers: list, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, then: dict | None = None):
    """A ``receive`` giving the body already read, then (if given) the message that ended the reading."""
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return then or {"type": "http.disconnect"}

    return receive


def _batch_format(raw: bytes) -> str | None:
    """``full`` or ``compact`` from a query string holding at most ``format``; None for anything else."""
    if not raw:
        return "full"
    try:
        pairs = parse_qsl(raw.decode("ascii"), strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return None
    if len(pairs) == 1 and pairs[0][0] == "format" and pairs[0][1] in ("full", "compact"):
        return pairs[0][1]
    return None


def _batch_answer(answers, body: bytes, fmt: str) -> tuple[int, list, bytes] | None:
    """The answer to a batch body of pairs, or None when it is anything else (the app answers it)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict) or not set(doc) <= {"crs", "points"} or not isinstance(doc.get("points"), list):
        return None
    points, crs = doc["points"], doc.get("crs", "wgs84")
    if crs not in _SYSTEMS or len(points) > BATCH_LIMIT:
        return None
    try:
        xy = np.asarray(points, dtype=float) if points else np.zeros((0, 2))
    except (TypeError, ValueError):
        return None  # objects with ids, or something that is not a pair of numbers
    if xy.ndim != 2 or xy.shape[1] != 2:
        return None
    n = len(xy)
    bad = _out_of_range(xy[:, 0], xy[:, 1])
    good = np.flatnonzero(~bad)
    slot = np.full(n, len(answers.codes), dtype=np.int64)  # out of range: the entry after "no grid"
    lon, lat = to_cgcs2000(xy[good, 0], xy[good, 1], crs)
    slot[good] = answers.codes_at(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    found = int((slot < len(answers.codes) - 1).sum())
    head = f'{{"plan":{{"id":{answers.plan_id},"version":{answers.version}}},"crs":"{crs}","count":{n},"found":{found},'
    if fmt == "compact":
        codes = answers.codes[np.minimum(slot, len(answers.codes) - 1)]
        tail = b'"codes":' + orjson.dumps(codes.tolist()) + b',"out_of_range":' + orjson.dumps(np.flatnonzero(bad).tolist()) + b"}"
        return 200, _JSON, head.encode() + tail
    return 200, _JSON, (head + '"results":[' + ",".join(answers.entries[slot].tolist()) + "]}").encode()
#: The cache key of a tile asked for without filters (the route's key for the same request).
_NO_FILTERS = Filters().key()


def _header(scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _tile_address(rest: str) -> tuple[str, int, int, int] | None:
    """``grids/14/13661/6765.pbf`` as (layer, z, x, y); None when it is not that shape (the app answers it)."""
    parts = rest.split("/")
    if len(parts) != 4 or not parts[3].endswith(".pbf"):
        return None
    try:
        z, x, y = int(parts[1]), int(parts[2]), int(parts[3][:-4])
    except ValueError:
        return None
    return parts[0], z, x, y


def _query(raw: bytes) -> tuple[float, float, str] | None:
    """lon, lat and crs from a query string the route would accept as they are; None for anything else."""
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return None
    given = dict(pairs)
    if len(given) != len(pairs) or not set(given) <= _PARAMS or "lon" not in given or "lat" not in given:
        return None
    try:
        lon, lat = float(given["lon"]), float(given["lat"])
    except ValueError:
        return None
    crs = given.get("crs", "wgs84")
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90) or crs not in _SYSTEMS:
        return None
    return lon, lat, crs
