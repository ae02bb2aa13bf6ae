"""``gridplanner serve`` and ``gridplanner demo``."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gridplanner.cli import app
from gridplanner.cli.db import ensure_database
from gridplanner.settings import get_settings


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Default 127.0.0.1 (GRIDPLANNER_HOST).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Default 8000 (GRIDPLANNER_PORT).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the API (/api/v1, docs at /docs) and the web map (/)."""
    import uvicorn

    ensure_database()
    settings = get_settings()
    uvicorn.run("gridplanner.api.app:create_app", factory=True, host=host or settings.host, port=port or settings.port, workers=workers, log_level="info")
