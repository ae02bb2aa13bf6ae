"""Settings from the environment (prefix ``GRIDPLANNER_``; ``DATABASE_URL`` as is)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDPLANNER_", env_file=None, extra="ignore")

    #: An external PostGIS (>= 3.3). Unset: the embedded cluster under ``home`` is used.
    database_url: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL", "GRIDPLANNER_DATABASE_URL"))
    #: Where the embedded cluster, job files and caches live (git ignores the default).
    home: Path = PROJECT_ROOT / ".gridplanner"
    #: The embedded cluster listens on 127.0.0.1 at this port, away from a system PostgreSQL's 5432.
    pg_port: int = 54329
    pg_database: str = "gridplanner"
    #: The HTTP server.
    host: str = "127.0.0.1"
    port: int = 8000
    #: The grid coding rule: ``default`` (12-digit community code + 3-digit sequence, DB11/T 2157-2023),
    #: ``cjt349`` (needs code_constants {"object": "NNNNNN"}) or a template such as ``{community}{type:1}{seq:03}``.
    code_rule: str = "default"
    code_constants: dict[str, str] = {}
    #: Security limits (docs/security.md): web session lifetime, the session cookie's Secure flag (set it behind
    #: HTTPS), request body size, GeoJSON features and vertices per request, requests per second per user or
    #: key (token bucket; 0 turns it off) and the burst allowed above that rate.
    session_hours: float = 12.0
    session_cookie_secure: bool = False
    max_upload_bytes: int = 50 * 1024 * 1024
    max_features_per_request: int = 10_000
    max_vertices_per_request: int = 1_000_000
    rate_limit_per_second: float = 100.0
    rate_limit_burst: int = 300
    #: The largest photo a grid worker may attach to a task (bytes; JPEG or PNG, kept in the database).
    task_photo_max_bytes: int = 5 * 1024 * 1024
    #: 吹哨报到: working days a department has to acknowledge (报到) an escalation, unless the escalation says otherwise.
    escalation_ack_working_days: int = Field(default=1, ge=1, le=30)
    #: 巡查走访: a building within this many metres of a visit's track or point counts as visited.
    patrol_nearby_m: float = Field(default=25.0, ge=0, le=200)
    #: The demo accounts' password (``gridplanner demo``); unset: the documented ``gridplanner-demo``.
    demo_password: str | None = None
    #: The in-process tile cache of each server process (MB).
    tile_cache_mb: int = 256
    web_dir: Path = PROJECT_ROOT / "web"
    sample_dir: Path = PROJECT_ROOT / "data" / "boundaries"

    @property
    def embedded(self) -> bool:
        return not self.database_url

    @property
    def pg_data_dir(self) -> Path:
        return self.home / "pgdata"


#: Values set in this process over what the environment says (:func:`configure`).
_OVERRIDES: dict = {}


@lru_cache
def get_settings() -> Settings:
    """The settings: the environment (read once, here, never at import), then what :func:`configure` set."""
    return Settings(**_OVERRIDES)


def configure(**values) -> Settings:
    """Set settings in this process (tests and benchmarks point the store at a database of their own) without
    touching the environment; returns the new settings."""
    _OVERRIDES.update(values)
    get_settings.cache_clear()
    return get_settings()
