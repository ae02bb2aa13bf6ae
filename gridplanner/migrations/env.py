"""Alembic environment: runs on the connection handed in by gridplanner, or on the configured URL."""

from alembic import context
from sqlalchemy import create_engine, pool

from gridplanner.store.models import Base

config = context.config
target_metadata = Base.metadata

# PostGIS and its tiger/topology schemas own tables we must not try to drop in autogenerate.
_FOREIGN_TABLES = {"spatial_ref_sys"}


def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table" and name in _FOREIGN_TABLES:
        return False
    # GiST and partial indexes are written by hand in the migrations (the models leave geometry indexes to
    # them), so autogenerate must not offer to drop them.
    if type_ == "index" and reflected and compare_to is None:
        return False
    return True


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.begin() as conn:
        _run(conn)


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, include_object=include_object, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `gridplanner db upgrade`")
run_migrations_online()
