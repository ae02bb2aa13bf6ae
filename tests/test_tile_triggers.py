"""Writes to incidents and staff by any client (here: plain SQL, as psql or a bulk COPY would) reach the tile
caches through the triggers' NOTIFY when they commit."""

from __future__ import annotations

import time

from sqlalchemy import text

from tiles import cache
from tiles.tilemath import Tile


def _cached(layer: str, t: Tile) -> tuple:
    key = (layer, t.z, t.x, t.y, ())
    cache.TILE_CACHE.put(key, cache.CachedTile(b"t", cache.etag_of(b"t"), t.lonlat_bounds()), cache.TILE_CACHE.generation(layer))
    return key


def _gone(key, seconds: float = 5.0) -> bool:
    deadline = time.time() + seconds
    while key in cache.TILE_CACHE and time.time() < deadline:
        time.sleep(0.05)
    return key not in cache.TILE_CACHE


def test_incident_insert_and_delete_invalidate_the_tile_holding_them(committed_db, client):
    client.get("/api/v1/tiles/incidents/0/0/0.pbf")  # starts this process's listener
    here, far = Tile(14, 13658, 6744), Tile(14, 100, 100)
    w, s, e, n = here.lonlat_bounds()
    lon, lat = (w + e) / 2, (s + n) / 2
    near_key, far_key = _cached("incidents", here), _cached("incidents", far)
    with committed_db.begin() as conn:
        conn.execute(
            text("INSERT INTO incidents (category, status, reported_at, geom) VALUES ('其他', '上报', now(), ST_SetSRID(ST_Point(:x, :y), 4490))"),
            {"x": lon, "y": lat},
        )
    assert _gone(near_key)
    assert far_key in cache.TILE_CACHE

    near_key = _cached("incidents", here)
    with committed_db.connect() as conn:  # rolled back: no notice, the tile stays
        conn.execute(text("DELETE FROM incidents"))
        conn.rollback()
    time.sleep(0.5)
    assert near_key in cache.TILE_CACHE
    with committed_db.begin() as conn:
        conn.execute(text("DELETE FROM incidents"))
    assert _gone(near_key)


def test_staff_change_invalidates_the_staffing_tile_of_its_grid(committed_db, client):
    client.get("/api/v1/tiles/staffing/0/0/0.pbf")
    here, far = Tile(14, 13658, 6744), Tile(14, 100, 100)
    w, s, e, n = here.lonlat_bounds()
    with committed_db.begin() as conn:
        plan = conn.execute(text("INSERT INTO grid_plans (name, status, settings, report, lock_version) VALUES ('p', 'draft', '{}', '{}', 1) RETURNING id")).scalar_one()
        conn.execute(
            text("INSERT INTO grids (plan_id, code, type, community_code, households, population, area_m2, building_count, geom) "
                 "VALUES (:p, '330106001001001', 'basic', '330106001001', 0, 0, 0, 0, ST_MakeEnvelope(:w, :s, :e, :n, 4490))"),
            {"p": plan, "w": w + (e - w) / 4, "s": s + (n - s) / 4, "e": e - (e - w) / 4, "n": n - (n - s) / 4},
        )
    near_key, far_key = _cached("staffing", here), _cached("staffing", far)
    with committed_db.begin() as conn:
        conn.execute(text("INSERT INTO staff (name, role, grid_code, active) VALUES ('张三', '专职网格员', '330106001001001', true)"))
    assert _gone(near_key)
    assert far_key in cache.TILE_CACHE
