"""How commands end when something goes wrong: the user's input (exit 2, naming the file, feature and problem),
work done only in part (exit 3, the report lists what), or a fault of Gridplanner (exit 70, with the
traceback in a log file, never shown as the user's fault). Nothing is written in the first and last cases.
"""

from __future__ import annotations

import logging
import traceback
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from gis.errors import InputError, VectorInputError

#: Bad input or usage: nothing was written.
EXIT_INPUT = 2
#: Written, but some communities could only be given a fallback plan (listed in the report).
EXIT_PARTIAL = 3
#: A fault of Gridplanner (sysexits EX_SOFTWARE): nothing was written, the traceback is in the log.
EXIT_INTERNAL = 70

err = Console(stderr=True, soft_wrap=True)


def log_path() -> Path:
    """Where tracebacks go: ``$GRIDPLANNER_HOME/logs/errors.log``."""
    from gridplanner.settings import get_settings

    return get_settings().home / "logs" / "errors.log"


def attach_log() -> Path:
    """Send the ``gridplanner`` loggers' warnings and errors (the engines log their faults there, with
    tracebacks) to :func:`log_path` as well; returns the path."""
    path = log_path()
    root = logging.getLogger("gridplanner")
    if not any(getattr(h, "_gridplanner_file", False) for h in root.handlers):
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8", delay=True)
        handler.setLevel(logging.WARNING)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._gridplanner_file = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.setLevel(min(root.level or logging.WARNING, logging.WARNING))
    return path


def input_error(exc: Exception, *, written: bool = False) -> None:
    """Print an input error and leave with :data:`EXIT_INPUT`."""
    tail = "" if written else "\n[red]nothing was written.[/]"
    err.print(f"[red]error:[/] {escape(str(exc))}{tail}")
    raise typer.Exit(EXIT_INPUT)


def internal_error(exc: BaseException, command: str) -> None:
    """Log the traceback, tell the user it is Gridplanner's fault and where the log is, and leave with
    :data:`EXIT_INTERNAL`."""
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with path.open("a", encoding="utf-8") as f:
            f.write(f"--- {stamp} gridplanner {command}\n{''.join(traceback.format_exception(exc))}\n")
        where = f"the traceback was written to {path}"
    except OSError as log_exc:
        where = f"the traceback could not be written ({log_exc}); it follows:\n{''.join(traceback.format_exception(exc))}"
    err.print(
        f"[red]internal error[/] in gridplanner {command}: {escape(type(exc).__name__)}: {escape(str(exc))}\n"
        f"This is a fault in Gridplanner, not in your data; {escape(where)}. Nothing was written."
    )
    raise typer.Exit(EXIT_INTERNAL)


@contextmanager
def guarded(command: str, *, sources: dict[str, Path | None] | None = None):
    """Run a command's work: input errors (:class:`InputError`, :class:`VectorInputError`) end it with :data:`EXIT_INPUT`, naming
    the file when the engine named the input by role ("communities", "layer 综治"); any other exception is an
    internal error. ``typer.Exit`` passes through."""
    try:
        yield
    except typer.Exit:
        raise
    except VectorInputError as exc:
        where = (sources or {}).get(exc.path)
        if where is not None and str(where) != exc.path:
            exc = VectorInputError(f"{where} ({exc.path})", exc.problems)
        input_error(exc)
    except InputError as exc:
        input_error(exc)
    except Exception as exc:  # anything else is ours to fix, never the user's
        internal_error(exc, command)
