"""Single lookups from memory: the published plan's grids in an STRtree, each grid's answer already written
by PostgreSQL (the expression the SQL path uses, :data:`gridplanner.lookup.service.ANSWER_JSON`), so a lookup
costs one point-in-polygon probe and a string join instead of a database round trip.

Kept current in every server process: any write that can change an answer (a publish or rollback, the staff
roster, an import of communities, streets or districts, an edit) notifies the map layers' channel on commit
(:mod:`tiles.cache`; triggers send it for staff whatever wrote the rows), and each process's listener drops
its answers when the notice arrives, milliseconds after the commit. The process that writes also drops them
before its commit (:func:`drop`, called by :func:`gridplanner.maplayers.invalidate`). Answers are used only
while the listener is connected; without it, and while they are rebuilt (in a thread, one query), lookups go
to the SQL. A plan named with ``plan=`` always goes to the SQL.

Answers are those of the SQL: a point belongs to every grid it intersects (boundary included) and the lowest
code wins (the grids are kept in ``ORDER BY code`` order and the first hit is taken).
"""

from __future__ import annotations

import gc
import json
import logging
import threading
import time
from dataclasses import dataclass

import numpy as np
import orjson
import shapely

from gridplanner.lookup.service import ANSWER_JSON, CONTACT_ROLES

log = logging.getLogger(__name__)

#: What the query string of an answer is joined to (``… "query" : {…}}``), as PostgreSQL writes a json value.
_QUERY_MARK = '"query" : 0}'

_ALL_SQL = f"""
    WITH plan AS (SELECT id, version FROM grid_plans WHERE status = 'published')
    SELECT g.code, ST_AsBinary(g.geom), plan.id, plan.version, {ANSWER_JSON.format(g="g", query="CAST('0' AS json)")}::text
    FROM grids g JOIN plan ON g.plan_id = plan.id
    LEFT JOIN communities c ON c.code = g.community_code
    LEFT JOIN streets s ON s.code = c.street_code
    LEFT JOIN districts d ON d.code = s.district_code
    WHERE g.code IS NOT NULL
    ORDER BY g.code
"""


@dataclass(frozen=True)
class Answers:
    """The published plan's grids (in code order) and each one's answer less its closing ``query``."""

    plan_id: int
    version: int
    tree: shapely.STRtree  # over ``geoms``
    geoms: np.ndarray  # prepared: a point-in-polygon test walks an index of the polygon's edges
    heads: list[str]  # the answer up to and including '"query" : '
    codes: np.ndarray  # the grids' codes, in code order, then None for "no grid"
    #: Each grid's entry in a batch answer as JSON, then "no grid" and "out of range" (see :func:`batch_entries`).
    entries: np.ndarray

    def codes_at(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """For each CGCS2000 point, the index into :attr:`codes` of the lowest code holding it (the last slot,
        None, where no grid does)."""
        n = len(lon)
        first = np.full(n, len(self.codes) - 1, dtype=np.int64)
        if n:
            # Boxes from the tree, then the prepared polygons' own test on the coordinates: a third quicker
            # than the tree's predicate, which tests each pair unprepared.
            point, grid = self.tree.query(shapely.points(lon, lat))
            inside = shapely.intersects_xy(self.geoms[grid], lon[point], lat[point])
            np.minimum.at(first, point[inside], grid[inside])
        return first

    def answer(self, lon: float, lat: float, query: dict) -> str | None:
        """The answer for the CGCS2000 point, with ``query`` echoed; None when no grid holds it."""
        near = self.tree.query(shapely.Point(lon, lat))
        hits = near[shapely.intersects_xy(self.geoms[near], lon, lat)] if len(near) else near
        if len(hits) == 0:
            return None
        return self.heads[int(hits.min())] + orjson.dumps(query).decode() + "}"


def load(connection) -> Answers | None:
    """The answers of the published plan, read on a psycopg ``connection``; None when nothing is published."""
    rows = connection.execute(_ALL_SQL, {"roles": list(CONTACT_ROLES)}).fetchall()
    if not rows:
        return None
    heads = []
    for *_, text in rows:
        if not text.endswith(_QUERY_MARK):
            raise ValueError(f"unexpected answer shape from PostgreSQL: …{text[-40:]!r}")
        heads.append(text[: -len("0}")])
    geoms = shapely.from_wkb([bytes(r[1]) for r in rows])
    shapely.prepare(geoms)
    codes = np.array([r[0] for r in rows] + [None], dtype=object)
    return Answers(int(rows[0][2]), int(rows[0][3]), shapely.STRtree(geoms), geoms, heads, codes, batch_entries(codes[:-1]))


#: Why a batch entry has no code.
NO_GRID, OUT_OF_RANGE = "no grid contains this point", "coordinates out of range"


def batch_entries(codes) -> np.ndarray:
    """A batch result per code, as the route's JSON writes it, then the two without a code: a batch answer is
    these joined in the points' order, with no work per point in Python.

    >>> batch_entries(["330106001001001"]).tolist()[0]
    '{"code":"330106001001001","reason":null}'
    """
    out = [json.dumps({"code": c, "reason": None}, ensure_ascii=False, separators=(",", ":")) for c in codes]
    out += [json.dumps({"code": None, "reason": why}, ensure_ascii=False, separators=(",", ":")) for why in (NO_GRID, OUT_OF_RANGE)]
    return np.array(out, dtype=object)


class _State:
    def __init__(self):
        self.lock = threading.Lock()
        self.answers: Answers | None = None
        self.generation = 0  # bumped by every drop: a build started before one is not kept
        self.building = False
        self.builder: threading.Thread | None = None
        self.listening: dict[str, bool] = {}  # conninfo -> listener connected
        self.nothing_published = False


_state = _State()


def drop() -> None:
    """Forget the answers (something they are built from changed); the next lookups rebuild them."""
    with _state.lock:
        _state.answers = None
        _state.nothing_published = False
        _state.generation += 1


def current(conninfo: str) -> Answers | None:
    """The answers for the database ``conninfo`` (a libpq URL) when they are ready and kept current; else None
    (the caller answers by SQL), with the listener and a build started as needed."""
    answers = _state.answers
    if answers is not None and _state.listening.get(conninfo):
        return answers
    _ensure_listener(conninfo)
    if _state.listening.get(conninfo) and not _state.building and not _state.nothing_published:
        _start_build(conninfo)
    return None


def _start_build(conninfo: str) -> None:
    with _state.lock:
        if _state.building:
            return
        _state.building = True
        generation = _state.generation
    _state.builder = threading.Thread(target=_build, args=(conninfo, generation), name="lookup-answers", daemon=True)
    _state.builder.start()


def _build(conninfo: str, generation: int) -> None:
    import psycopg

    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            answers = load(conn)
        with _state.lock:
            if _state.generation == generation:  # nothing changed while it was read
                _state.answers = answers
                _state.nothing_published = answers is None
        # The answers are some 100,000 long-lived objects: left to the collector, every full collection walked
        # them all (100 ms each with 20,000 grids), which doubled the time of a 10,000-point batch. Frozen, the
        # collector skips them, and everything else alive now, for good; answers replaced later are freed by
        # their reference counts (they hold no cycles). No collection first: it would pause the server as long.
        gc.freeze()
    except Exception:  # a fault of ours or the database's: lookups keep using the SQL, and it is logged
        log.exception("building the in-memory lookup answers failed; lookups use the SQL")
        time.sleep(1)
    finally:
        _state.building = False


def _ensure_listener(conninfo: str) -> None:
    with _state.lock:
        if conninfo in _state.listening:
            return
        _state.listening[conninfo] = False
    # Not waited for: the caller (on the event loop) answers by SQL until the listener is connected.
    threading.Thread(target=_listen_forever, args=(conninfo,), name="lookup-answers-listener", daemon=True).start()


def _listen_forever(conninfo: str) -> None:
    import psycopg

    from tiles.cache import CHANNEL

    while True:
        try:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(f"LISTEN {CHANNEL}")
                drop()  # anything built while nobody listened may be stale
                _state.listening[conninfo] = True
                for _ in conn.notifies():
                    drop()
        except Exception as exc:
            log.warning("lookup answers listener lost its connection (%s); lookups use the SQL until it is back", exc)
        _state.listening[conninfo] = False
        drop()
        time.sleep(2)


def reset() -> None:
    """Forget the answers and stop trusting the listeners (tests; a process that forks), after any build under
    way has finished: its read holds locks on the grid tables, and a TRUNCATE after a test deadlocked on them."""
    builder = _state.builder
    if builder is not None:
        builder.join(timeout=30)
    drop()
    with _state.lock:
        _state.listening.clear()
