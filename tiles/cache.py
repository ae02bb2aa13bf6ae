"""An in-process tile cache with content ETags, invalidated by the bounding box of each change.

Writers call :func:`invalidate` with the layer catalog, the table (or layer) they changed and the lon/lat box of the change. That
drops the cached tiles of every layer showing that table whose area (with its buffer) meets the box, at every
zoom, and nothing else. Given the writer's connection it also sends ``NOTIFY gridplanner_tiles``: PostgreSQL
delivers it when the writer's transaction commits (never when it rolls back) to every server process that
called :func:`listen`, so a CLI or a worker process writing the store invalidates the server's cache too.

ETags are digests of the tile bytes, so a client's copy stays valid exactly as long as the tile's content is the
same, whatever the cache dropped. Tiles whose attributes change by the clock (a row falling due) expire at that
instant.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict, defaultdict
from dataclasses import dataclass

from sqlalchemy import text

from tiles.layers import Catalog
from tiles.tilemath import boxes_intersect

CHANNEL = "gridplanner_tiles"
log = logging.getLogger(__name__)

BBox = tuple[float, float, float, float]


def etag_of(data: bytes) -> str:
    return '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'


@dataclass(frozen=True)
class CachedTile:
    data: bytes
    etag: str
    #: lon/lat area the tile draws, buffer included: a change meeting it changes the tile.
    bounds: BBox
    #: epoch seconds after which the content is stale by the clock alone, or None.
    expires: float | None = None


class TileCache:
    """Least-recently-used tiles up to ``max_bytes``, keyed by (layer, z, x, y, filters)."""

    def __init__(self, max_bytes: int = 256 * 2**20) -> None:
        # The size is configured at start-up (``configure``), never read from the environment at import.
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple, CachedTile] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._generation: dict[str, int] = defaultdict(int)
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: tuple) -> bool:
        return key in self._entries

    def get(self, key: tuple) -> CachedTile | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.expires is not None and entry.expires <= time.time():
                self._drop(key)
                entry = None
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def generation(self, layer: str) -> int:
        """Read before rendering and hand to :meth:`put`: a tile rendered while its layer was invalidated is not kept."""
        return self._generation[layer]

    def put(self, key: tuple, entry: CachedTile, generation: int) -> bool:
        with self._lock:
            if self._generation[key[0]] != generation:
                return False
            if key in self._entries:
                self._drop(key)
            self._entries[key] = entry
            self._size += len(entry.data)
            while self._size > self.max_bytes and self._entries:
                self._drop(next(iter(self._entries)))
            return True

    def invalidate_layers(self, layers: list[str], bbox: BBox | None) -> int:
        """Drop the tiles of ``layers`` meeting ``bbox`` (all of them when None); returns how many."""
        with self._lock:
            for layer in layers:
                self._generation[layer] += 1
            doomed = [k for k, e in self._entries.items() if k[0] in layers and (bbox is None or boxes_intersect(e.bounds, bbox))]
            for k in doomed:
                self._drop(k)
            return len(doomed)

    def clear(self) -> None:
        with self._lock:
            for layer in set(self._generation):
                self._generation[layer] += 1
            self._entries.clear()
            self._size = 0

    def _drop(self, key: tuple) -> None:
        self._size -= len(self._entries.pop(key).data)


#: The process's cache, used by the tile routes (its size: :func:`configure`).
TILE_CACHE = TileCache()


def configure(max_bytes: int) -> None:
    """Set the process cache's size (the server does at start-up, from its settings)."""
    with TILE_CACHE._lock:
        TILE_CACHE.max_bytes = int(max_bytes)


def _check_bbox(bbox) -> BBox | None:
    if bbox is None:
        return None
    w, s, e, n = (float(v) for v in bbox)
    if not (w <= e and s <= n):
        raise ValueError(f"bbox {bbox} is not (west, south, east, north)")
    return w, s, e, n


def invalidate(catalog: Catalog, what: str, bbox: BBox | None = None, *, connection=None) -> int:
    """A change to table (or layer) ``what`` of ``catalog`` within lon/lat ``bbox`` (None: anywhere).

    Drops the affected tiles of this process now; with ``connection`` (a Session or Connection in the writer's
    transaction) every listening process drops them too when that transaction commits. Returns the number of
    tiles dropped here.
    """
    layers = catalog.using(what)
    box = _check_bbox(bbox)
    dropped = TILE_CACHE.invalidate_layers(layers, box)
    if connection is not None:
        payload = json.dumps({"what": what, "bbox": box})
        connection.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload})
    return dropped


def apply_notification(catalog: Catalog, payload: str) -> int:
    msg = json.loads(payload)
    return TILE_CACHE.invalidate_layers(catalog.using(msg["what"]), _check_bbox(msg.get("bbox")))


_listeners: dict[str, threading.Thread] = {}
_listeners_lock = threading.Lock()


def listen(dsn: str, catalog: Catalog) -> None:
    """Apply invalidations NOTIFYed on ``dsn`` (a libpq URI) in a background thread; once per process and database."""
    with _listeners_lock:
        if dsn in _listeners and _listeners[dsn].is_alive():
            return
        ready = threading.Event()
        thread = threading.Thread(target=_listen_forever, args=(dsn, catalog, ready), name="tile-cache-listener", daemon=True)
        _listeners[dsn] = thread
        thread.start()
    # Tiles rendered before LISTEN took effect could miss a change; wait briefly so the first ones are safe.
    ready.wait(timeout=5)


def _listen_forever(dsn: str, catalog: Catalog, ready: threading.Event) -> None:
    import psycopg

    while True:
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"LISTEN {CHANNEL}")
                # Anything cached while we were not listening may be stale.
                TILE_CACHE.clear()
                ready.set()
                for note in conn.notifies():
                    try:
                        apply_notification(catalog, note.payload)
                    except (ValueError, LookupError, KeyError) as exc:
                        log.warning("ignored a malformed tile invalidation %r: %s", note.payload, exc)
        except psycopg.Error as exc:
            log.warning("tile cache listener lost its connection (%s); retrying, cache cleared", exc)
            TILE_CACHE.clear()
            ready.set()
            time.sleep(2)
