"""Working days (工作日), as pure functions over a :class:`WorkCalendar`.

Time limits of grid work are counted in working days, as the county's documents count them: Saturdays and
Sundays are off unless the State Council makes one a make-up working day (调休上班), and the public holidays
(法定节假日, with the days moved around them) are off whatever the weekday. The calendar of a year is published
each November, so it is data (the ``calendar_days`` table, :mod:`gridplanner.gridwork.calendar_store`), not code.

Deadlines are in Beijing time: a limit of *n* working days from a moment is the same clock time on the *n*-th
working day after that moment's date (a case dispatched on Friday 15:00 with one working day is due Monday 15:00).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
#: The longest limit counted: a year of working days is far beyond any item's (the catalogue allows 365).
MAX_DAYS = 1000


@dataclass(frozen=True)
class WorkCalendar:
    """``holidays``: days off (法定节假日 and the days moved to join them); ``workdays``: weekend days worked (调休)."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def is_working_day(self, day: date) -> bool:
        """
        >>> cal = WorkCalendar(holidays=frozenset({date(2026, 10, 1)}), workdays=frozenset({date(2026, 10, 10)}))
        >>> [cal.is_working_day(d) for d in (date(2026, 10, 1), date(2026, 10, 9), date(2026, 10, 10), date(2026, 10, 11))]
        [False, True, True, False]
        """
        if day in self.holidays:
            return False
        return day in self.workdays or day.weekday() < 5


def add_working_days(start: date, n: int, calendar: WorkCalendar) -> date:
    """The *n*-th working day after ``start`` (``start`` itself is not counted, working or not); n = 0 is
    ``start``.

    >>> cal = WorkCalendar()
    >>> add_working_days(date(2026, 12, 4), 1, cal)  # Friday + 1: Monday
    datetime.date(2026, 12, 7)
    >>> golden_week = WorkCalendar(holidays=frozenset(date(2026, 10, d) for d in range(1, 8)),
    ...                            workdays=frozenset({date(2026, 9, 20), date(2026, 10, 10)}))
    >>> add_working_days(date(2026, 9, 30), 1, golden_week)  # the holiday, then Thursday 8 October
    datetime.date(2026, 10, 8)
    >>> add_working_days(date(2026, 9, 30), 3, golden_week)  # 8, 9 and the make-up Saturday 10 October
    datetime.date(2026, 10, 10)
    >>> add_working_days(date(2026, 9, 30), -1, cal)
    Traceback (most recent call last):
    ...
    ValueError: n must be 0 … 1000 working days, not -1
    """
    if not 0 <= n <= MAX_DAYS:
        raise ValueError(f"n must be 0 … {MAX_DAYS} working days, not {n}")
    day = start
    while n:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            n -= 1
    return day


def working_days_between(a: date, b: date, calendar: WorkCalendar) -> int:
    """Working days after ``a`` up to and including ``b`` (negative when ``b`` is before ``a``), so that
    ``working_days_between(a, add_working_days(a, n, cal), cal) == n``.

    >>> cal = WorkCalendar(holidays=frozenset({date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)}), workdays=frozenset({date(2026, 1, 4)}))
    >>> working_days_between(date(2025, 12, 31), date(2026, 1, 5), cal)  # Sunday 4 January is worked, then Monday
    2
    >>> working_days_between(date(2026, 1, 5), date(2025, 12, 31), cal)
    -2
    >>> working_days_between(date(2026, 1, 5), date(2026, 1, 5), cal)
    0
    """
    if b < a:
        return -working_days_between(b, a, calendar)
    return sum(1 for i in range(1, (b - a).days + 1) if calendar.is_working_day(a + timedelta(days=i)))


def working_deadline(start: datetime, n: int, calendar: WorkCalendar) -> datetime:
    """The deadline *n* working days after the moment ``start``: the same Beijing clock time on the *n*-th
    working day after its Beijing date.

    >>> working_deadline(datetime(2026, 12, 4, 15, 0, tzinfo=BEIJING), 1, WorkCalendar()).isoformat()
    '2026-12-07T15:00:00+08:00'
    >>> working_deadline(datetime(2026, 12, 4, 15, 0), 1, WorkCalendar())
    Traceback (most recent call last):
    ...
    ValueError: start must carry a time zone
    """
    if start.tzinfo is None:
        raise ValueError("start must carry a time zone")
    local = start.astimezone(BEIJING)
    day = add_working_days(local.date(), n, calendar)
    return datetime.combine(day, local.timetz()).astimezone(start.tzinfo)
