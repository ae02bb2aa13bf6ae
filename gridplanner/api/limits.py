"""Request limits, each answered with a clear 4xx: body size (413), GeoJSON features and vertices per request
(413), requests per second per user or key (429 with Retry-After)."""

from __future__ import annotations

import json
import math
import threading
import time

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RateLimiter:
    """A token bucket per principal, in process: ``rate`` tokens a second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = float(rate), max(1, int(burst))
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, who: str) -> float:
        """0 when the request may go ahead, else the seconds until it may."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(who, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[who] = (tokens - 1.0, now)
                return 0.0
            self._buckets[who] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def check(self, who: str) -> None:
        wait = self.take(who)
        if wait > 0:
            raise HTTPException(
                429,
                f"too many requests for {who}: the limit is {self.rate:g} a second (bursts of {self.burst}); retry in {wait:.1f} s",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """ASGI middleware: a body over ``max_bytes`` gets 413, by its Content-Length before anything is read or,
    for chunked uploads, as soon as the bytes received pass the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await self._reject(send, int(length), _lang(scope))
        seen = 0
        over = started = False

        async def counted() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    over = True
                    raise _TooLarge()
            return message

        async def replaced(message: Message) -> None:
            # The app may catch the error and answer it itself (FastAPI answers 400 for a body it cannot
            # read); a body over the limit is answered 413 whatever it says.
            nonlocal started
            if not over:
                started = started or message["type"] == "http.response.start"
                return await send(message)
            if message["type"] == "http.response.start" and not started:
                started = True
                await self._reject(send, seen, _lang(scope))

        try:
            await self.app(scope, counted, replaced)
        except _TooLarge:
            if not started:
                await self._reject(send, seen, _lang(scope))

    async def _reject(self, send: Send, size: int, lang: str = "zh") -> None:
        from gridplanner.api.errors import localized

        detail = f"request body too large: {size} bytes or more, the limit is {self.max_bytes} bytes (GRIDPLANNER_MAX_UPLOAD_BYTES)"
        body = json.dumps(localized(detail, lang), ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _lang(scope) -> str:
    from gridplanner.api.errors import request_language

    return request_language(list(scope.get("headers") or []))


def count_geojson(obj) -> tuple[int, int]:
    """(features, vertices) in a parsed JSON document: Feature objects, and positions under "coordinates"."""
    features = vertices = 0
    stack = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "Feature":
                features += 1
            coords = node.get("coordinates")
            if isinstance(coords, list):
                vertices += _positions(coords)
            stack.extend(v for k, v in node.items() if k != "coordinates" and isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return features, vertices


def _positions(coords: list) -> int:
    n, stack = 0, [coords]
    while stack:
        c = stack.pop()
        if c and isinstance(c, list):
            if isinstance(c[0], (int, float)):
                n += 1
            else:
                stack.extend(x for x in c if isinstance(x, list))
    return n


def check_geojson_limits(obj, max_features: int, max_vertices: int) -> None:
    """413 when a request carries more GeoJSON features or vertices than allowed."""
    features, vertices = count_geojson(obj)
    if features > max_features:
        raise HTTPException(413, f"too many features in one request: {features}, the limit is {max_features} (GRIDPLANNER_MAX_FEATURES_PER_REQUEST); send them in several requests")
    if vertices > max_vertices:
        raise HTTPException(413, f"too many vertices in one request: {vertices}, the limit is {max_vertices} (GRIDPLANNER_MAX_VERTICES_PER_REQUEST); simplify or split the geometry")


def install(app) -> None:
    """A value PostgreSQL cannot hold (an id past 2^31, a number out of its column's range) is the client's
    mistake: 422 with what was wrong, never a 500."""
    from fastapi import Request
    from fastapi.responses import JSONResponse
    from sqlalchemy.exc import DataError

    @app.exception_handler(DataError)
    async def out_of_range(request: Request, exc: DataError) -> JSONResponse:
        from gridplanner.api.errors import error_response

        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        return error_response(request, 422, f"a value in the request is outside what the store accepts: {reason}")
