"""Checks of one roster field at a time: phone numbers, citizen ID numbers (stored masked only), roles.

Each ``clean_*`` returns the normalised value or raises :class:`FieldError` with a message fit for a person.
"""

from __future__ import annotations

import re
from datetime import date

ROLES = ("网格长", "专职网格员", "兼职网格员")
ROLE_ALIASES = {"网格长": "网格长", "专职网格员": "专职网格员", "专职": "专职网格员", "兼职网格员": "兼职网格员", "兼职": "兼职网格员"}

MOBILE = re.compile(r"^1[3-9]\d{9}$")
# Area codes: 010 and 020–029 have 3 digits, all others 4 (0 + [3-9]xx); then a 7–8 digit local number,
# optionally an extension (转 / ext / -).
LANDLINE = re.compile(r"^(0(?:10|2\d|[3-9]\d{2}))-?([2-9]\d{6,7})(?:(?:-|转|ext\.?)(\d{1,6}))?$", re.IGNORECASE)

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
MASKED_ID = re.compile(r"^\d{6}\*{8}\d{3}[\dX]$")


class FieldError(ValueError):
    """One field of one record is malformed."""


def clean_phone(value: object) -> str:
    """A mainland mobile (1[3-9] + 9 digits) or landline (0 + area code, 7–8 digits); spaces and +86 dropped.

    >>> clean_phone("+86 138 0013 8000"), clean_phone("0571-87654321")
    ('13800138000', '0571-87654321')
    """
    raw = "" if value is None else str(value).strip()
    if not raw:
        raise FieldError("phone is missing")
    s = re.sub(r"[\s()（）]", "", raw)
    s = re.sub(r"^(\+86|0086)-?", "", s)
    if MOBILE.match(s):
        return s
    if s.startswith("1") and s.isdigit():
        raise FieldError(f"phone {raw!r} is not a mainland mobile number (11 digits, 1[3-9]…)")
    m = LANDLINE.match(s)
    if m:
        area, local, ext = m.groups()
        return f"{area}-{local}" + (f"-{ext}" if ext else "")
    raise FieldError(f"phone {raw!r} is neither a mainland mobile number (1[3-9] + 9 digits) nor a landline (0 + area code + 7–8 digits)")


def id_check_digit(first17: str) -> str:
    """GB 11643 check digit (ISO 7064 MOD 11-2) of the first 17 digits."""
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS)) % 11]


def mask_id_number(value: object) -> str | None:
    """Check an 18-digit citizen ID number and return it masked (first 6 and last 4 kept); None when empty.

    The full number is never returned, so callers cannot store it by mistake.

    >>> mask_id_number("11010519491231002X")
    '110105********002X'
    """
    raw = "" if value is None else str(value).strip().upper()
    if not raw:
        return None
    if MASKED_ID.match(raw):
        return raw  # already masked (e.g. a roster exported from here): cannot be re-checked, kept as is
    if not re.fullmatch(r"\d{17}[\dX]", raw):
        raise FieldError(f"ID number must be 18 characters (17 digits and a digit or X), got {len(raw)} characters")
    try:
        date(int(raw[6:10]), int(raw[10:12]), int(raw[12:14]))
    except ValueError:
        raise FieldError(f"ID number has an impossible birth date {raw[6:14]}") from None
    if id_check_digit(raw[:17]) != raw[17]:
        raise FieldError("ID number check digit is wrong (GB 11643)")
    return f"{raw[:6]}{'*' * 8}{raw[14:]}"


def clean_role(value: object) -> str:
    raw = "" if value is None else str(value).strip()
    if raw not in ROLE_ALIASES:
        raise FieldError(f"role {raw!r} is not one of {', '.join(ROLES)}")
    return ROLE_ALIASES[raw]


def clean_name(value: object) -> str:
    raw = "" if value is None else str(value).strip()
    if not raw:
        raise FieldError("name is missing")
    if len(raw) > 50:
        raise FieldError(f"name is {len(raw)} characters long (at most 50)")
    return raw
