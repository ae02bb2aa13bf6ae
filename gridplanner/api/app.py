"""The FastAPI application: API under /api/v1, OpenAPI docs at /docs, the web app at /."""

from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from sqlalchemy.exc import OperationalError

from gridplanner import __version__
from gridplanner.api import jobs
from gridplanner.api import errors
from gridplanner.api import limits
from gridplanner.api.fastpaths import FastPaths
from gridplanner.api.limits import BodySizeLimit
from gridplanner.api import locking
from gridplanner.api.security import authorize
from gridplanner.api.routes import grids, health, plans, store_views
from gridplanner.api.routes import collections, tiles
from gridplanner.api.routes import incidents, staff
from gridplanner.api.routes import dashboard, edits
from gridplanner.api.routes import grid_items, open311, search, tasks
from gridplanner.api.routes import assessment, calendar, escalations, patrols
from gridplanner.api.routes import auth as auth_routes
from gridplanner.settings import get_settings
from tiles import cache as tile_cache

API_PREFIX = "/api/v1"
log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI):
    try:
        stale = jobs.fail_interrupted()
        if stale:
            log.warning("marked %d jobs interrupted by the last shutdown as failed", stale)
    except OperationalError as exc:  # the database may come up later; requests recover by themselves
        log.warning("database not reachable at start-up: %s", exc)
    yield


def create_app() -> FastAPI:
    # A server allocates and frees tens of thousands of short-lived objects a second; with the default gen-0
    # threshold (700) the collector ran hundreds of times a second and its pauses made the lookups' tail:
    # bench_lookup, 32 connections, p99 of four alternating runs 18–58 ms with this, 54–139 ms without.
    gc.set_threshold(50_000, 50, 100)
    app = FastAPI(
        lifespan=lifespan,
        title="Gridplanner 网格规划 API",
        version=__version__,
        description="Community governance grids (网格化服务管理): planning, 多网合一, codes, staffing, incidents, map layers.",
        docs_url="/docs",
        openapi_url="/openapi.json",
        # Every route but health, login and logout needs a user or an API key (docs/security.md).
        dependencies=[Depends(authorize)],
    )
    settings = get_settings()
    tile_cache.configure(settings.tile_cache_mb * 2**20)
    errors.install(app)
    locking.install(app)
    limits.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes)
    # Outermost but for the fast paths' own: every error below it speaks the request's language.
    app.add_middleware(errors.Language)
    # Outermost: single lookups and cached tiles answered from memory before anything else runs (api/fastpaths.py).
    app.add_middleware(FastPaths, api=app)
    app.include_router(health.router, prefix=API_PREFIX)
    # Starlette tries routes in order: the lookups other systems call most come first.
    app.include_router(grids.router, prefix=API_PREFIX)
    app.include_router(auth_routes.router, prefix=API_PREFIX)
    app.include_router(store_views.router, prefix=API_PREFIX)
    app.include_router(plans.router, prefix=API_PREFIX)
    app.include_router(edits.router, prefix=API_PREFIX)
    app.include_router(tiles.router, prefix=API_PREFIX)
    app.include_router(collections.router, prefix=API_PREFIX)
    app.include_router(staff.router, prefix=API_PREFIX)
    app.include_router(incidents.router, prefix=API_PREFIX)
    app.include_router(dashboard.router, prefix=API_PREFIX)
    app.include_router(grid_items.router, prefix=API_PREFIX)
    app.include_router(tasks.router, prefix=API_PREFIX)
    app.include_router(search.router, prefix=API_PREFIX)
    app.include_router(escalations.router, prefix=API_PREFIX)
    app.include_router(assessment.router, prefix=API_PREFIX)
    app.include_router(patrols.router, prefix=API_PREFIX)
    app.include_router(calendar.router, prefix=API_PREFIX)
    # GeoReport v2 lives at its own, standard path, outside /api/v1.
    app.include_router(open311.router)
    # Mounted last so it never shadows an API route; node_modules inside web/ serves the npm libraries locally.
    app.mount("/", StaticFiles(directory=get_settings().web_dir, html=True), name="web")
    return app
