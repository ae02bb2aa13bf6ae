"""Code templates: a small syntax for local grid coding rules, e.g. ``{community}{type:1}{seq:03}``.

A template is literal text and fields in braces, ``{name}`` or ``{name:WIDTH}`` (``{seq:03}`` and
``{seq:3}`` are the same: sequences are always zero-padded). Fields:

=============  =======  ==========================================================
field          width    value
=============  =======  ==========================================================
``community``  12       the grid's 12-digit community code (统计用区划代码)
``county``     6        its first 6 digits (GB/T 2260 county)
``township``   3        digits 7–9 (街道/镇/乡); ``street`` is the same field
``village``    3        digits 10–12 (居委会/村委会)
``seq``        3        the grid's sequence number in its community (required, once)
``type``       1        the grid type's code from the rule (``basic`` 1, ``dedicated`` 2)
other names    given    a constant from the rule, e.g. ``{object:6}`` for CJ/T 349
=============  =======  ==========================================================

Every field has a fixed width, so a code can be parsed back into its fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from gridplanner.coding.divisions import CodeError

#: Fields taken from the community code: name -> (width, slice of the 12-digit code).
COMMUNITY_FIELDS = {"community": (12, slice(0, 12)), "county": (6, slice(0, 6)), "township": (3, slice(6, 9)), "village": (3, slice(9, 12))}
_ALIASES = {"street": "township"}
DEFAULT_WIDTHS = {"seq": 3, "type": 1}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class TemplateError(ValueError):
    """A template that cannot be used; the message quotes the template and says where and why."""

    def __init__(self, template: str, reason: str, position: int | None = None):
        self.template, self.reason, self.position = template, reason, position
        where = "" if position is None else f" at character {position + 1}"
        super().__init__(f"code template {template!r}{where}: {reason}")


@dataclass(frozen=True)
class Field:
    name: str
    width: int


@dataclass(frozen=True)
class CodeTemplate:
    """A parsed template: literal strings and :class:`Field` parts, in order."""

    text: str
    parts: tuple[str | Field, ...]

    @classmethod
    def parse(cls, text: str) -> CodeTemplate:
        """Parse ``text``; :class:`TemplateError` says what is wrong and where.

        >>> CodeTemplate.parse("{community}{type:1}{seq:03}").width
        16
        """
        if not isinstance(text, str) or not text.strip():
            raise TemplateError(str(text), "empty template")
        parts: list[str | Field] = []
        seen: set[str] = set()
        pos = 0
        while pos < len(text):
            open_at = text.find("{", pos)
            close_at = text.find("}", pos)
            if close_at != -1 and (open_at == -1 or close_at < open_at):
                raise TemplateError(text, "'}' without a matching '{'", close_at)
            if open_at == -1:
                parts.append(text[pos:])
                break
            if open_at > pos:
                parts.append(text[pos:open_at])
            end = text.find("}", open_at)
            if end == -1:
                raise TemplateError(text, "'{' is never closed", open_at)
            inner = text[open_at + 1 : end]
            if "{" in inner:
                raise TemplateError(text, "'{' inside a field", open_at + 1 + inner.index("{"))
            field = _parse_field(text, inner, open_at)
            if field.name in seen:
                raise TemplateError(text, f"field {field.name!r} appears twice", open_at)
            seen.add(field.name)
            parts.append(field)
            pos = end + 1
        if "seq" not in seen:
            raise TemplateError(text, "no {seq} field: grids of a community could not be told apart")
        if "community" not in seen and not {"county", "township", "village"} <= seen:
            raise TemplateError(
                text, "no community part: use {community} or all of {county}{township}{village}, or codes of different communities collide"
            )
        if "community" in seen and seen & {"county", "township", "village"}:
            raise TemplateError(text, "{community} already holds county, township and village; do not repeat them")
        return cls(text, tuple(parts))

    @property
    def fields(self) -> tuple[Field, ...]:
        return tuple(p for p in self.parts if isinstance(p, Field))

    @property
    def width(self) -> int:
        """The length of every code this template makes."""
        return sum(p.width if isinstance(p, Field) else len(p) for p in self.parts)

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def constants(self) -> tuple[str, ...]:
        """Names of fields whose value is a constant of the rule."""
        return tuple(f.name for f in self.fields if f.name not in COMMUNITY_FIELDS and f.name not in DEFAULT_WIDTHS)

    def render(self, values: Mapping[str, object]) -> str:
        """The code for ``values`` (``community`` as 12 digits, ``seq`` as int, others as text)."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            if part.name in COMMUNITY_FIELDS:
                community = str(values["community"])
                out.append(community[COMMUNITY_FIELDS[part.name][1]])
            elif part.name == "seq":
                seq = int(values["seq"])
                if not 0 <= seq < 10**part.width:
                    raise CodeError(seq, f"sequence does not fit {part.width} digits of template {self.text!r}")
                out.append(f"{seq:0{part.width}d}")
            else:
                value = str(values[part.name])
                if len(value) != part.width:
                    raise CodeError(value, f"{part.name} must be {part.width} characters for template {self.text!r}")
                out.append(value)
        return "".join(out)

    def match(self, code: str) -> dict[str, str]:
        """The fields of ``code`` (text), ``community`` rebuilt when the template splits it.

        >>> CodeTemplate.parse("{community}{seq:03}").match("110105002011004")
        {'community': '110105002011', 'seq': '004'}
        """
        if not isinstance(code, str):
            raise CodeError(code, "a grid code must be text")
        found = self._regex.fullmatch(code)
        if found is None:
            raise CodeError(code, f"does not fit the template {self.text!r} ({self.width} characters: {self.describe()})")
        fields = found.groupdict()
        if "community" not in fields:
            fields["community"] = fields["county"] + fields["township"] + fields["village"]
        return fields

    def describe(self) -> str:
        """The template in words, e.g. ``12-digit community + 3-digit seq``."""
        words = [f"{p.width}-digit {p.name}" if isinstance(p, Field) else repr(p) for p in self.parts]
        return " + ".join(words)

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        pattern = []
        for part in self.parts:
            if isinstance(part, str):
                pattern.append(re.escape(part))
            elif part.name in COMMUNITY_FIELDS or part.name == "seq":
                pattern.append(f"(?P<{part.name}>[0-9]{{{part.width}}})")
            else:
                pattern.append(f"(?P<{part.name}>[0-9A-Za-z]{{{part.width}}})")
        return re.compile("".join(pattern))


def _parse_field(text: str, inner: str, at: int) -> Field:
    name, _, spec = inner.partition(":")
    name = name.strip()
    name = _ALIASES.get(name, name)
    if not name:
        raise TemplateError(text, "empty field name", at)
    if not _NAME.match(name):
        raise TemplateError(text, f"bad field name {name!r} (letters, digits and _ only)", at)
    if spec:
        if not spec.isdigit():
            raise TemplateError(text, f"width of {{{inner}}} must be a number, e.g. {{{name}:3}}", at)
        width = int(spec)
        if width == 0:
            raise TemplateError(text, f"width of {{{inner}}} must be at least 1", at)
    elif name in COMMUNITY_FIELDS:
        width = COMMUNITY_FIELDS[name][0]
    elif name in DEFAULT_WIDTHS:
        width = DEFAULT_WIDTHS[name]
    else:
        raise TemplateError(text, f"constant field {{{name}}} needs a width, e.g. {{{name}:6}}", at)
    if name in COMMUNITY_FIELDS and width != COMMUNITY_FIELDS[name][0]:
        raise TemplateError(text, f"{{{name}}} is {COMMUNITY_FIELDS[name][0]} digits wide, not {width}", at)
    if name == "seq" and width > 9:
        raise TemplateError(text, "{seq} wider than 9 digits is not supported", at)
    return Field(name, width)
