"""Division code checks (统计用区划代码): every bad code gets its own clear error."""

import pytest

from gridplanner.coding import CodeError, check_code_table, check_community_code, decode_division


def test_good_codes_decode_with_their_kinds():
    p = decode_division("110105002011")
    assert (p.county, p.county_kind, p.township_code, p.township_kind, p.community_code, p.community_kind) == (
        "110105", "市辖区", "110105002", "街道", "110105002011", "居委会",
    )  # fmt: skip
    assert decode_division("130121101210").township_kind == "镇"
    assert decode_division("130121101210").community_kind == "村委会"
    assert decode_division("130181203").township_kind == "乡"
    assert decode_division("130181").county_kind == "县级市"
    assert decode_division("110105401").township_kind == "其他乡级单位"


@pytest.mark.parametrize(
    "code,reason",
    [
        ("11010500201", "12 digits"),
        ("1101050020111", "12 digits"),
        ("11010500201A", "12 digits"),
        ("９１０１０５００２０１１", "12 digits"),  # full-width digits are not ASCII digits
        ("990105002011", "province part 99 is not a GB/T 2260 province"),
        ("110005002011", "prefecture part is 00"),
        ("110100002011", "county part is 00"),
        ("110105000011", "township part 000"),
        ("110105600011", "township part 600 is outside 001–599"),
        ("110105002000", "community part 000"),
        ("110105002400", "community part 400 is outside 居委会 001–199 / 村委会 200–399"),
        ("110105002999", "community part 999 is outside"),
    ],
)
def test_bad_community_codes(code, reason):
    with pytest.raises(CodeError, match=reason) as info:
        check_community_code(code)
    assert info.value.code == code
    assert code in str(info.value)


def test_not_a_string():
    with pytest.raises(CodeError, match="must be 12 digits"):
        check_community_code(110105002011)


def test_table_reports_every_problem_with_its_row():
    codes = ["110105002011", "110105002012", "110105002011", "110105777011", None, 130121101210.0]
    streets = ["110105002", "110105003", "110105002", "110105777", "110105002", "130121101"]
    names = ["甲社区", "乙社区", "丙社区", "丁社区", "戊社区", "己村"]
    problems = check_code_table(codes, parents=streets, idents=names)
    lines = [p.describe() for p in problems]
    assert lines == [
        "feature 1 (乙社区): code '110105002012': does not sit under its parent '110105003'",
        "feature 2 (丙社区): code '110105002011': duplicate of row 0",
        "feature 3 (丁社区): code '110105777011': township part 777 is outside 001–599 (街道 001–099, 镇 100–199, 乡 200–399, other 400–599)",
        "feature 4 (戊社区): missing code",
    ]


def test_table_of_townships_and_counties():
    assert check_code_table(["110105002", "110105101"], length=9, parents=["110105", "110105"]) == []
    (problem,) = check_code_table(["110105002", "110106101"], length=9, parents=["110105", "110105"])
    assert "does not sit under its parent '110105'" in problem.message
    (problem,) = check_code_table(["110105", "1101"], length=6)
    assert problem.feature == 1 and "6 digits" in problem.message
