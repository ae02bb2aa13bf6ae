"""What the benchmarks share: a database of their own on the project's PostGIS (DATABASE_URL, else the embedded
cluster), created fresh and dropped afterwards."""

from __future__ import annotations

import os
import re

import psycopg


def server_url() -> str:
    """A libpq URL of the server in use, starting the embedded cluster when it is the one."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        from gridplanner.cli.db import ensure_database
        from gridplanner.store.database import database_url

        ensure_database()
        url = database_url()
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def with_database(url: str, name: str) -> str:
    """``url`` naming database ``name`` instead.

    >>> with_database("postgresql://u@h:1/a?x=1", "b")
    'postgresql://u@h:1/b?x=1'
    """
    scheme, rest = url.split("://", 1)
    return f"{scheme}://" + re.sub(r"/[^/?]*(\?|$)", rf"/{name}\1", rest, count=1)


def fresh_database(url: str, name: str) -> str:
    """Create database ``name`` anew on the server of ``url``, migrate it and point the store at it."""
    from gridplanner.store import database

    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    own = with_database(url, name)
    database.use_database(own)
    # The benchmark's own subprocesses and raw psycopg connections find it here.
    os.environ["DATABASE_URL"] = own
    database.upgrade()
    return own


def drop_database(url: str, name: str) -> None:
    from gridplanner.store import database

    database.get_engine().dispose()
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def machine() -> str:
    """One line saying what ran the benchmark: date, CPU and cores, RAM, Python and GEOS versions."""
    import datetime as dt
    import platform
    from pathlib import Path

    import shapely

    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = ""
    try:
        kb = int(next(ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")).split()[1])
        ram = f", {kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, StopIteration):
        pass
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"{stamp}; {os.cpu_count()} cores, {cpu}{ram}; Python {platform.python_version()}, "
            f"shapely {shapely.__version__} (GEOS {'.'.join(map(str, shapely.geos_version))})")


def replace_section(doc, heading: str, body: str) -> None:
    """Replace the section of ``doc`` (a Markdown file) that starts with ``heading`` by ``body``, or append it."""
    from pathlib import Path

    doc = Path(doc)
    text_ = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text_):
        text_ = pattern.sub(lambda _: body.rstrip() + "\n\n", text_, count=1)
    else:
        text_ = text_.rstrip() + "\n\n" + body.rstrip() + "\n"
    doc.write_text(text_, encoding="utf-8")
