"""Errors about input data that name the file, the feature and the problem."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One problem found in one feature (``feature`` is None for a whole-file problem).

    ``feature`` is the feature's 0-based position in the file; ``ident`` is its own id when it has one.
    """

    message: str
    feature: int | None = None
    ident: str | None = None

    def describe(self) -> str:
        if self.feature is None:
            return self.message
        who = f"feature {self.feature}" + (f" ({self.ident})" if self.ident else "")
        return f"{who}: {self.message}"


class InputError(ValueError):
    """Input or options that cannot be used as given (the user's to fix); nothing has been written.

    Everything else an engine raises is a fault of the engine, reported as internal.
    """


class VectorInputError(InputError):
    """Input that cannot be used as given; nothing has been written when this is raised.

    >>> str(VectorInputError("a.geojson", [Problem("empty geometry", feature=3)]))
    'a.geojson: feature 3: empty geometry'
    """

    MAX_LISTED = 20

    def __init__(self, path: str | Path, problems: list[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem(problems)]
        self.path = str(path)
        self.problems = list(problems)
        lines = [p.describe() for p in self.problems[: self.MAX_LISTED]]
        more = len(self.problems) - self.MAX_LISTED
        if more > 0:
            lines.append(f"... and {more} more problems")
        if len(lines) == 1:
            text = f"{self.path}: {lines[0]}"
        else:
            text = f"{self.path}: {len(self.problems)} problems\n" + "\n".join("  " + ln for ln in lines)
        super().__init__(text)
