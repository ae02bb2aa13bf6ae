"""The ``gridplanner`` command line (Typer). Each group of commands lives in a module of its own."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="gridplanner",
    help="网格规划 Gridplanner: divide community boundaries into grids, merge department grids, code and serve them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

from gridplanner.cli import db as _db  # noqa: E402,F401
from gridplanner.cli import importing as _importing  # noqa: E402,F401
from gridplanner.cli import serve as _serve  # noqa: E402,F401
from gridplanner.cli import merge as _merge  # noqa: E402,F401
from gridplanner.cli import plan as _plan  # noqa: E402,F401
from gridplanner.cli import codes as _codes  # noqa: E402,F401
from gridplanner.cli import sample as _sample  # noqa: E402,F401
from gridplanner.cli import staff as _staff  # noqa: E402,F401
from gridplanner.cli import incidents as _incidents  # noqa: E402,F401
from gridplanner.cli import report as _report  # noqa: E402,F401
from gridplanner.cli import users as _users  # noqa: E402,F401
from gridplanner.cli import gridwork as _gridwork  # noqa: E402,F401
from gridplanner.cli import tasks as _tasks  # noqa: E402,F401
from gridplanner.cli import calendar as _calendar  # noqa: E402,F401
from gridplanner.cli import escalations as _escalations  # noqa: E402,F401
from gridplanner.cli import assessment as _assessment  # noqa: E402,F401
