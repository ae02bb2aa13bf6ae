"""Administrative division codes (统计用区划代码): structure checks and decoding.

A 12-digit community code is ``CCCCCC TTT VVV``:

- ``CCCCCC`` the county (GB/T 2260): 2 province + 2 prefecture + 2 county digits; the county part is
  01–20 for 市辖区, 21–80 for 县 (旗 ...), 81–99 for 县级市; 00 would be the prefecture itself.
- ``TTT`` the township (GB/T 10114): 001–099 街道, 100–199 镇, 200–399 乡, 400–599 other township-level units
  (开发区, 农场 ...).
- ``VVV`` the village-level unit: 001–199 居委会 (社区), 200–399 村委会 (行政村).

Every check raises :class:`CodeError` naming the code and the reason; :func:`check_code_table` collects
the problems of a whole table instead of stopping at the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gis.errors import Problem

#: GB/T 2260 province-level codes (first two digits).
PROVINCES = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省",
    "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区", "46": "海南省",
    "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区",
    "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区", "65": "新疆维吾尔自治区",
    "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}  # fmt: skip

STREET, TOWN, TOWNSHIP, OTHER_TOWNSHIP = "街道", "镇", "乡", "其他乡级单位"
RESIDENTS_COMMITTEE, VILLAGE_COMMITTEE = "居委会", "村委会"
DISTRICT, COUNTY, COUNTY_CITY = "市辖区", "县", "县级市"


class CodeError(ValueError):
    """A code that breaks the coding rules; ``code`` is the code and ``reason`` says what is wrong."""

    def __init__(self, code: object, reason: str):
        self.code, self.reason = code, reason
        super().__init__(f"code {code!r}: {reason}")


def _digits(code: object, length: int, what: str) -> str:
    if not isinstance(code, str):
        raise CodeError(code, f"{what} must be a string of {length} digits, not {type(code).__name__}")
    if len(code) != length or not code.isascii() or not code.isdigit():
        raise CodeError(code, f"{what} must be {length} digits")
    return code


def county_kind(code: str) -> str:
    """Check a 6-digit county code (GB/T 2260) and say whether it is a 市辖区, 县 or 县级市.

    >>> county_kind("110105"), county_kind("130121"), county_kind("130181")
    ('市辖区', '县', '县级市')
    """
    _digits(code, 6, "a county code")
    if code[:2] not in PROVINCES:
        raise CodeError(code, f"province part {code[:2]} is not a GB/T 2260 province")
    if code[2:4] == "00":
        raise CodeError(code, "prefecture part is 00: this is a province code, not a county")
    county = int(code[4:6])
    if county == 0:
        raise CodeError(code, "county part is 00: this is a prefecture code, not a county")
    return DISTRICT if county <= 20 else COUNTY if county <= 80 else COUNTY_CITY


def township_kind(part: str, *, code: str | None = None) -> str:
    """The kind of a 3-digit township part (GB/T 10114): 街道, 镇, 乡 or 其他乡级单位.

    >>> township_kind("004"), township_kind("101"), township_kind("203")
    ('街道', '镇', '乡')
    """
    value = int(_digits(part, 3, "a township part"))
    who = code or part
    if value == 0:
        raise CodeError(who, "township part 000 is not a township")
    if value <= 99:
        return STREET
    if value <= 199:
        return TOWN
    if value <= 399:
        return TOWNSHIP
    if value <= 599:
        return OTHER_TOWNSHIP
    raise CodeError(who, f"township part {part} is outside 001–599 (街道 001–099, 镇 100–199, 乡 200–399, other 400–599)")


def community_kind(part: str, *, code: str | None = None) -> str:
    """The kind of a 3-digit village-level part: 居委会 (001–199) or 村委会 (200–399).

    >>> community_kind("012"), community_kind("210")
    ('居委会', '村委会')
    """
    value = int(_digits(part, 3, "a community part"))
    who = code or part
    if value == 0:
        raise CodeError(who, "community part 000 is not a community")
    if value <= 199:
        return RESIDENTS_COMMITTEE
    if value <= 399:
        return VILLAGE_COMMITTEE
    raise CodeError(who, f"community part {part} is outside 居委会 001–199 / 村委会 200–399")


@dataclass(frozen=True)
class DivisionParts:
    """The parts of a county (6), township (9) or community (12) code, each with its kind."""

    county: str
    county_kind: str
    township: str | None = None
    township_kind: str | None = None
    community: str | None = None
    community_kind: str | None = None

    @property
    def township_code(self) -> str | None:
        """The 9-digit township (street) code."""
        return None if self.township is None else self.county + self.township

    @property
    def community_code(self) -> str | None:
        """The 12-digit community code."""
        return None if self.community is None else self.county + self.township + self.community


def decode_division(code: str) -> DivisionParts:
    """Check and split a 6-, 9- or 12-digit division code.

    >>> p = decode_division("110105002011")
    >>> p.county, p.county_kind, p.township, p.township_kind, p.community, p.community_kind
    ('110105', '市辖区', '002', '街道', '011', '居委会')
    """
    if not isinstance(code, str) or len(code) not in (6, 9, 12):
        raise CodeError(code, "a division code has 6 (county), 9 (township) or 12 (community) digits")
    _digits(code, len(code), "a division code")
    county = code[:6]
    try:
        ckind = county_kind(county)
    except CodeError as exc:
        raise CodeError(code, exc.reason) from None
    if len(code) == 6:
        return DivisionParts(county, ckind)
    tkind = township_kind(code[6:9], code=code)
    if len(code) == 9:
        return DivisionParts(county, ckind, code[6:9], tkind)
    vkind = community_kind(code[9:12], code=code)
    return DivisionParts(county, ckind, code[6:9], tkind, code[9:12], vkind)


def check_community_code(code: str) -> DivisionParts:
    """Check a 12-digit community code; its parts if valid, else :class:`CodeError`."""
    if not isinstance(code, str) or len(code) != 12:
        raise CodeError(code, "a community code must be 12 digits (6 county + 3 township + 3 community)")
    return decode_division(code)


def check_code_table(
    codes: Sequence[object],
    *,
    length: int = 12,
    parents: Sequence[object] | None = None,
    idents: Sequence[object] | None = None,
) -> list[Problem]:
    """Every problem in a column of division codes: bad structure, duplicates, a code not under its parent.

    ``length`` is 6, 9 or 12. ``parents`` (same length as ``codes``), when given, holds each row's parent
    code (e.g. the street's 9-digit code for a community): a code that does not start with it is reported.
    Problems name the row (``feature``) and, when given, the row's ``idents`` (e.g. a name).

    >>> [p.describe() for p in check_code_table(["110105002011", "110105002011", "11010500201"])]
    ["feature 1: code '110105002011': duplicate of row 0", "feature 2: code '11010500201': a community code must be 12 digits (6 county + 3 township + 3 community)"]
    """
    if length not in (6, 9, 12):
        raise ValueError("length must be 6, 9 or 12")
    names = {6: "a county code must be 6 digits", 9: "a township code must be 9 digits (6 county + 3 township)",
             12: "a community code must be 12 digits (6 county + 3 township + 3 community)"}  # fmt: skip
    problems: list[Problem] = []
    first_row: dict[str, int] = {}

    def ident(i: int) -> str | None:
        return None if idents is None or idents[i] is None else str(idents[i])

    for i, raw in enumerate(codes):
        code = code_text(raw)
        if code is None:
            problems.append(Problem("missing code", i, ident(i)))
            continue
        try:
            if len(code) != length:
                raise CodeError(code, names[length])
            decode_division(code)
        except CodeError as exc:
            problems.append(Problem(str(exc), i, ident(i)))
            continue
        if code in first_row:
            problems.append(Problem(f"code {code!r}: duplicate of row {first_row[code]}", i, ident(i)))
        else:
            first_row[code] = i
        if parents is not None:
            parent = code_text(parents[i])
            if parent is None:
                problems.append(Problem(f"code {code!r}: its parent code is missing", i, ident(i)))
            elif not code.startswith(parent) or len(parent) >= len(code):
                problems.append(Problem(f"code {code!r}: does not sit under its parent {parent!r}", i, ident(i)))
    return problems


def code_text(value: object) -> str | None:
    """A code cell as text: None/NaN/empty are missing; integers and floats like 110105.0 become digits."""
    if value is None:
        return None
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        if value.is_integer():
            return str(int(value))
    text = str(value).strip()
    return text or None

