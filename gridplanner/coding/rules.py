"""Grid coding rules: a template, sequence ranges per grid type, constants; presets; decoding a grid code.

Presets:

- ``default`` (Beijing DB11/T 2157-2023 style): 15 digits = 12-digit community code + 3-digit sequence.
  Basic grids take 001–899 and dedicated grids (专属网格) 901–999, so a code alone tells the two apart and
  adding a basic grid never pushes a dedicated grid's number (or the reverse).
- ``cjt349`` (CJ/T 349-2010 digital community): 20 digits = 6-digit management/service object class
  (CJ/T 348, a constant of the rule) + 6 county + 3 street + 3 community + 2-digit sequence. Basic and
  dedicated grids share 01–99; a community that is not subdivided (one grid) gets sequence 00.
- any template (see :mod:`gridplanner.coding.template`). Without a ``{type}`` field, the sequence width is
  split like the default (for 3 digits: basic 001–899, dedicated 901–999); with one, the type digit tells
  the types apart and both number from 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gis.errors import Problem
from gridplanner.coding.divisions import CodeError, DivisionParts, check_community_code, code_text, decode_division
from gridplanner.coding.template import CodeTemplate

BASIC, DEDICATED = "basic", "dedicated"
GRID_TYPES = (BASIC, DEDICATED)
# Names grids arrive with, mapped to the two types the store knows.
_TYPE_ALIASES = {
    "basic": BASIC, "基础": BASIC, "基础网格": BASIC, "综合": BASIC, "综合网格": BASIC, "comprehensive": BASIC, "": BASIC,
    "dedicated": DEDICATED, "专属": DEDICATED, "专属网格": DEDICATED, "专项": DEDICATED,
}  # fmt: skip

DEFAULT_TEMPLATE = "{community}{seq:03}"
CJT349_TEMPLATE = "{object:6}{county}{township}{village}{seq:02}"


def grid_type(value: object) -> str:
    """``basic`` or ``dedicated`` from a grid's type value (English or Chinese; missing means basic)."""
    if value is None or (isinstance(value, float) and value != value):
        return BASIC
    key = str(value).strip().lower()
    if key not in _TYPE_ALIASES:
        raise CodeError(value, f"unknown grid type; use one of {sorted(set(_TYPE_ALIASES) - {''})}")
    return _TYPE_ALIASES[key]


def _split_ranges(width: int) -> tuple[tuple[int, int], tuple[int, int]]:
    top = 10**width - 1
    if width == 1:
        return (1, 8), (9, 9)
    split = 9 * 10 ** (width - 1)
    return (1, split - 1), (split + 1, top)


@dataclass(frozen=True)
class CodingRule:
    """How grid codes are made: ``template`` plus sequence ranges, type codes and constants."""

    template: CodeTemplate
    name: str = "custom"
    basic_range: tuple[int, int] = (1, 899)
    dedicated_range: tuple[int, int] = (901, 999)
    type_codes: Mapping[str, str] = field(default_factory=lambda: {BASIC: "1", DEDICATED: "2"})
    constants: Mapping[str, str] = field(default_factory=dict)
    #: Sequence of the only grid of a community that is not subdivided (CJ/T 349: 0); None: no such rule.
    single_sequence: int | None = None

    def __post_init__(self) -> None:
        seq = self.template.field("seq")
        limit = 10**seq.width - 1
        for kind, (lo, hi) in ((BASIC, self.basic_range), (DEDICATED, self.dedicated_range)):
            if not 0 <= lo <= hi <= limit:
                raise ValueError(f"rule {self.name!r}: {kind} range {lo}–{hi} does not fit {seq.width} sequence digits")
        missing = [c for c in self.template.constants if c not in self.constants]
        if missing:
            raise ValueError(f"rule {self.name!r}: template {self.template.text!r} needs constant(s) {missing}, e.g. --set {missing[0]}=...")
        for c in self.template.constants:
            width = self.template.field(c).width
            value = str(self.constants[c])
            if len(value) != width or not value.isalnum():
                raise ValueError(f"rule {self.name!r}: constant {c}={value!r} must be {width} letters or digits")
        type_field = self.template.field("type")
        if type_field is not None:
            for kind in GRID_TYPES:
                if len(str(self.type_codes.get(kind, ""))) != type_field.width:
                    raise ValueError(f"rule {self.name!r}: type code of {kind!r} must be {type_field.width} characters")

    @property
    def sequence_width(self) -> int:
        return self.template.field("seq").width

    def range_for(self, kind: str) -> tuple[int, int]:
        return self.basic_range if grid_type(kind) == BASIC else self.dedicated_range

    def values(self, community_code: str, kind: str, seq: int) -> dict[str, object]:
        out: dict[str, object] = {"community": community_code, "seq": seq, **self.constants}
        if self.template.field("type") is not None:
            out["type"] = self.type_codes[grid_type(kind)]
        return out

    def format(self, community_code: str, seq: int, kind: str = BASIC) -> str:
        """The code of grid number ``seq`` of type ``kind`` in a community.

        >>> DEFAULT_RULE.format("110105002011", 4)
        '110105002011004'
        """
        return self.template.render(self.values(community_code, kind, seq))

    def family(self, community_code: str, kind: str = BASIC) -> str:
        """The code with its sequence blanked: codes that compete for the same sequence numbers share it."""
        seq = self.template.field("seq")
        probe = self.format(community_code, 0, kind)
        start = _seq_offset(self.template)
        return probe[:start] + "#" * seq.width + probe[start + seq.width :]

    def parse(self, code: str) -> tuple[dict[str, str], str]:
        """The fields of a code of this rule and the family it belongs to (see :meth:`family`)."""
        fields = self.template.match(code)
        start, width = _seq_offset(self.template), self.sequence_width
        return fields, code[:start] + "#" * width + code[start + width :]


def _seq_offset(template: CodeTemplate) -> int:
    at = 0
    for part in template.parts:
        if not isinstance(part, str) and part.name == "seq":
            return at
        at += len(part) if isinstance(part, str) else part.width
    raise AssertionError("template has no seq")  # parse() guarantees one


def template_rule(template: str, *, constants: Mapping[str, str] | None = None, name: str = "custom", **kwargs) -> CodingRule:
    """A rule from a template string, with the default ranges for its sequence width (see module doc)."""
    parsed = CodeTemplate.parse(template)
    width = parsed.field("seq").width
    if parsed.field("type") is not None:
        full = (1, 10**width - 1)
        ranges = {"basic_range": full, "dedicated_range": full}
    else:
        basic, dedicated = _split_ranges(width)
        ranges = {"basic_range": basic, "dedicated_range": dedicated}
    ranges.update(kwargs)
    return CodingRule(parsed, name=name, constants=dict(constants or {}), **ranges)


DEFAULT_RULE = template_rule(DEFAULT_TEMPLATE, name="default")


def cjt349_rule(object_code: str) -> CodingRule:
    """The CJ/T 349-2010 20-digit rule for management/service objects of class ``object_code`` (6 digits)."""
    return template_rule(
        CJT349_TEMPLATE, constants={"object": object_code}, name="cjt349",
        basic_range=(1, 99), dedicated_range=(1, 99), single_sequence=0,
    )  # fmt: skip


def rule_from_spec(spec: str | None, constants: Mapping[str, str] | None = None) -> CodingRule:
    """A rule from its name (``default``, ``cjt349``) or a template; ``constants`` fill template constants.

    >>> rule_from_spec("cjt349", {"object": "010100"}).format("110105002011", 1)
    '01010011010500201101'
    """
    constants = dict(constants or {})
    key = (spec or "default").strip()
    if key.lower() in ("default", "db11", "beijing"):
        return DEFAULT_RULE
    if key.lower() in ("cjt349", "cj/t349", "cj/t 349"):
        if "object" not in constants:
            raise ValueError("rule cjt349 needs the 6-digit management/service object class (CJ/T 348): set object=NNNNNN")
        return cjt349_rule(constants["object"])
    if "{" not in key:
        raise ValueError(f"unknown coding rule {spec!r}: use default, cjt349 or a template such as '{{community}}{{seq:03}}'")
    return template_rule(key, constants=constants)


@dataclass(frozen=True)
class CodeParts:
    """What a code says: the division parts, and for a grid code its sequence and grid type."""

    code: str
    division: DivisionParts
    sequence: int | None = None
    grid_type: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        d = self.division
        return {
            "code": self.code, "county": d.county, "county_kind": d.county_kind,
            "township": d.township_code, "township_kind": d.township_kind,
            "community": d.community_code, "community_kind": d.community_kind,
            "sequence": self.sequence, "grid_type": self.grid_type,
        }  # fmt: skip


def decode_code(code: str, rule: CodingRule | None = None) -> CodeParts:
    """Check a code and split it: a 6/9/12-digit division code, or a grid code of ``rule`` (default rule).

    >>> p = decode_code("110105002011901")
    >>> p.division.township_kind, p.division.community_kind, p.sequence, p.grid_type
    ('街道', '居委会', 901, 'dedicated')
    """
    rule = rule or DEFAULT_RULE
    if not isinstance(code, str):
        raise CodeError(code, "a code must be text")
    code = code.strip()
    if len(code) in (6, 9, 12) and len(code) != rule.template.width:
        return CodeParts(code, decode_division(code))
    fields, _ = rule.parse(code)
    try:
        division = check_community_code(fields["community"])
    except CodeError as exc:
        raise CodeError(code, f"community part {fields['community']}: {exc.reason}") from None
    for name in rule.template.constants:
        if fields[name] != str(rule.constants[name]):
            raise CodeError(code, f"{name} part {fields[name]!r} is not the rule's {rule.constants[name]!r}")
    seq = int(fields["seq"])
    if "type" in fields:
        by_code = {v: k for k, v in rule.type_codes.items()}
        if fields["type"] not in by_code:
            raise CodeError(code, f"type part {fields['type']!r} is none of {dict(rule.type_codes)}")
        kind = by_code[fields["type"]]
        lo, hi = rule.range_for(kind)
        if not (lo <= seq <= hi or seq == rule.single_sequence):
            raise CodeError(code, f"sequence {seq} is outside {kind} range {lo}–{hi}")
    else:
        kind = _kind_of_sequence(rule, seq, code)
    return CodeParts(code, division, seq, kind, fields)


def _kind_of_sequence(rule: CodingRule, seq: int, code: str) -> str:
    if seq == rule.single_sequence:
        return BASIC
    (blo, bhi), (dlo, dhi) = rule.basic_range, rule.dedicated_range
    if blo <= seq <= bhi:
        return BASIC
    if dlo <= seq <= dhi:
        return DEDICATED
    w = rule.sequence_width
    raise CodeError(code, f"sequence {seq:0{w}d} is in no range (basic {blo:0{w}d}–{bhi:0{w}d}, dedicated {dlo:0{w}d}–{dhi:0{w}d})")


def check_grid_codes(
    codes: Sequence[object],
    rule: CodingRule | None = None,
    *,
    communities: Sequence[object] | None = None,
    idents: Sequence[object] | None = None,
) -> list[Problem]:
    """Every problem in a column of grid codes: not fitting ``rule``, bad parts, duplicates, and (when
    ``communities`` gives each row's community code) a code that does not sit under its community.

    >>> [p.describe() for p in check_grid_codes(["110105002011001", "110105002011001", "110105002411001"])]
    ["feature 1: code '110105002011001': duplicate of row 0", "feature 2: code '110105002411001': community part 110105002411: community part 411 is outside 居委会 001–199 / 村委会 200–399"]
    """
    rule = rule or DEFAULT_RULE
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for i, raw in enumerate(codes):
        who = None if idents is None or idents[i] is None else str(idents[i])
        code = code_text(raw)
        if code is None:
            problems.append(Problem("missing code", i, who))
            continue
        try:
            parts = decode_code(code, rule)
            if parts.sequence is None:
                raise CodeError(code, f"is a division code, not a grid code of rule {rule.name!r} ({rule.template.describe()})")
        except CodeError as exc:
            problems.append(Problem(str(exc), i, who))
            continue
        if code in first:
            problems.append(Problem(f"code {code!r}: duplicate of row {first[code]}", i, who))
        else:
            first[code] = i
        if communities is not None:
            community = code_text(communities[i])
            if community != parts.division.community_code:
                problems.append(Problem(f"code {code!r}: does not sit under its community {community!r}", i, who))
    return problems
