"""Coding rules, templates and grid code decoding."""

import pytest

from gridplanner.coding import (
    DEFAULT_RULE,
    CodeError,
    CodeTemplate,
    TemplateError,
    check_grid_codes,
    cjt349_rule,
    decode_code,
    rule_from_spec,
    template_rule,
)

C = "110105002011"


def test_default_rule_is_15_digits_with_dedicated_range():
    assert DEFAULT_RULE.format(C, 1) == "110105002011001"
    assert DEFAULT_RULE.format(C, 901, "dedicated") == "110105002011901"
    assert DEFAULT_RULE.range_for("basic") == (1, 899) and DEFAULT_RULE.range_for("专属") == (901, 999)
    assert DEFAULT_RULE.template.width == 15


def test_cjt349_is_20_digits():
    rule = cjt349_rule("010100")
    code = rule.format(C, 3)
    assert code == "010100" + "110105" + "002" + "011" + "03" and len(code) == 20
    parts = decode_code(code, rule)
    assert parts.division.community_code == C and parts.sequence == 3
    assert decode_code(rule.format(C, 0), rule).sequence == 0  # a community not subdivided
    with pytest.raises(CodeError, match="object part '020100' is not the rule's '010100'"):
        decode_code("020100" + C + "03", rule)


def test_template_with_type_segment():
    rule = rule_from_spec("{community}{type:1}{seq:03}")
    assert rule.format(C, 7, "dedicated") == C + "2" + "007"
    parts = decode_code(C + "1" + "012", rule)
    assert (parts.grid_type, parts.sequence) == ("basic", 12)
    with pytest.raises(CodeError, match="type part '9'"):
        decode_code(C + "9" + "012", rule)
    # With a type digit both types number from 1.
    assert rule.basic_range == rule.dedicated_range == (1, 999)


def test_template_with_literals_and_split_community():
    rule = template_rule("G-{county}{street}{village}-{seq:4}")
    code = rule.format(C, 12)
    assert code == "G-110105002011-0012"
    assert rule.basic_range == (1, 8999) and rule.dedicated_range == (9001, 9999)
    assert decode_code(code, rule).division.community_kind == "居委会"
    with pytest.raises(CodeError, match="does not fit the template"):
        decode_code("G110105002011-0012", rule)


@pytest.mark.parametrize(
    "template,reason",
    [
        ("", "empty template"),
        ("{community}", "no {seq} field"),
        ("{county}{seq:03}", "no community part"),
        ("{community}{county}{seq}", "already holds county"),
        ("{community}{seq:03", "'{' is never closed"),
        ("{community}seq:03}", "'}' without a matching '{'"),
        ("{community}{{seq}}", "'{' inside a field"),
        ("{community}{}{seq}", "empty field name"),
        ("{community}{seq:x3}", "must be a number"),
        ("{community}{seq:0}", "at least 1"),
        ("{community:6}{seq}", "12 digits wide, not 6"),
        ("{community}{seq}{seq}", "appears twice"),
        ("{community}{object}{seq}", "needs a width"),
        ("{community}{se-q}", "bad field name"),
        ("{community}{seq:12}", "wider than 9"),
    ],
)
def test_template_errors_say_what_and_where(template, reason):
    with pytest.raises(TemplateError, match=reason) as info:
        CodeTemplate.parse(template)
    assert repr(template) in str(info.value)


def test_template_error_position():
    with pytest.raises(TemplateError, match="at character 12"):
        CodeTemplate.parse("{community}{seq:03")


def test_rule_errors():
    with pytest.raises(ValueError, match="needs the 6-digit management/service object class"):
        rule_from_spec("cjt349")
    with pytest.raises(ValueError, match=r"needs constant\(s\) \['object'\]"):
        rule_from_spec("{object:6}{community}{seq:02}")
    with pytest.raises(ValueError, match="must be 6 letters or digits"):
        rule_from_spec("{object:6}{community}{seq:02}", {"object": "12"})
    with pytest.raises(ValueError, match="unknown coding rule 'beijing2'"):
        rule_from_spec("beijing2")
    with pytest.raises(ValueError, match="does not fit 2 sequence digits"):
        template_rule("{community}{seq:02}", basic_range=(1, 899))


def test_decode_code_parts():
    parts = decode_code("130121101210003").as_dict()
    assert parts == {
        "code": "130121101210003", "county": "130121", "county_kind": "县",
        "township": "130121101", "township_kind": "镇", "community": "130121101210", "community_kind": "村委会",
        "sequence": 3, "grid_type": "basic",
    }  # fmt: skip
    assert decode_code("110105002011").division.community_kind == "居委会"  # a division code
    assert decode_code("110105002011950").grid_type == "dedicated"


@pytest.mark.parametrize(
    "code,reason",
    [
        ("11010500201100", "does not fit the template"),
        ("1101050020110011", "does not fit the template"),
        ("110105002011900", "sequence 900 is in no range"),
        ("110105002011000", "sequence 000 is in no range"),
        ("990105002011001", "province part 99"),
        ("110105000011001", "township part 000"),
        ("110105002400001", "community part 400 is outside"),
    ],
)
def test_bad_grid_codes(code, reason):
    with pytest.raises(CodeError, match=reason):
        decode_code(code)


def test_check_grid_codes_lists_every_problem():
    codes = ["110105002011001", "110105002011002", "110105002011001", "110105002011", "110105002011900", ""]
    communities = [C, "110105002012", C, C, C, C]
    lines = [p.describe() for p in check_grid_codes(codes, communities=communities)]
    assert lines == [
        "feature 1: code '110105002011002': does not sit under its community '110105002012'",
        "feature 2: code '110105002011001': duplicate of row 0",
        "feature 3: code '110105002011': is a division code, not a grid code of rule 'default' (12-digit community + 3-digit seq)",
        "feature 4: code '110105002011900': sequence 900 is in no range (basic 001–899, dedicated 901–999)",
        "feature 5: missing code",
    ]
