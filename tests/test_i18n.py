"""Server messages in Chinese by Accept-Language (gridplanner.i18n, gridplanner.api.errors): every message the
code raises has its Chinese text, and the API answers in the language asked for."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gridplanner.i18n import UNTRANSLATED, chinese, language, text_for

ROOT = Path(__file__).resolve().parent.parent / "gridplanner"
#: Errors whose messages reach clients (through api.errors' handlers or an HTTPException).
RAISED = {"HTTPException", "PlanError", "TransitionError", "FilterError", "TileError", "UnknownCategory",
          "CoordinateError", "UnknownGridError", "VersionGone", "PlanNotFound", "StaffNotFound", "IncidentNotFound",
          "UnknownLayer", "EditError", "LookupError", "ValueError", "InputError", "StaleVersion"}
#: Errors that never reach a client's response (the engines' own faults are answered as internal errors).
NOT_SENT = {"RuntimeError", "AssertionError", "TypeError", "NotImplementedError", "ClusterError", "KeyError"}
#: Not the server's to say: the command line (English), the sample generator, grid work (bilingual already).
SKIPPED_PARTS = {"cli", "sampledata", "migrations", "gridwork", "reports"}
#: Messages that only a bug can raise (answered as internal errors, never shown as such).
INTERNAL = {"unexpected answer shape from PostgreSQL: …{}"}


def _template(node) -> str | None:
    """The literal text of a message argument with ``{}`` where an f-string puts a value."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _template(node.left), _template(node.right)
        return None if left is None else left + (right if right is not None else "{}")
    return None


def raised_messages() -> list[tuple[str, str]]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        if SKIPPED_PARTS & set(path.relative_to(ROOT).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            # An error class that writes its own message: super().__init__(f"...").
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "__init__"
                    and isinstance(node.func.value, ast.Call) and getattr(node.func.value.func, "id", None) == "super"):
                text = _template(node.args[0]) if node.args else None
                if text and len(text) > 3 and not any("\u4e00" <= ch <= "\u9fff" for ch in text):
                    found.append((f"{path.relative_to(ROOT.parent)}:{node.lineno}", text))
                continue
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            func = node.exc.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in NOT_SENT or not name or not (name in RAISED or name.endswith(("Error", "Refused", "ToDo", "Found", "Gone"))):
                continue
            args = [*node.exc.args, *(k.value for k in node.exc.keywords if k.arg == "detail")]
            if any(any("\u4e00" <= ch <= "\u9fff" for ch in (_template(a) or "")) for a in args):
                continue  # bilingual already (Chinese and English given side by side)
            if name == "VectorInputError":
                args = args[1:]  # the file's name, then the problem
            for arg in args:
                text = _template(arg)
                if text is not None and len(text) > 3 and not text.isdigit() and text not in INTERNAL:
                    found.append((f"{path.relative_to(ROOT.parent)}:{node.lineno}", text))
    return found


def test_the_scan_finds_the_messages():
    texts = {t for _, t in raised_messages()}
    assert len(texts) > 100
    assert "no plan {}" in texts and "the new boundary would cut through buildings {}; draw it around them" in texts


@pytest.mark.parametrize("where,template", raised_messages(), ids=lambda v: v if ":" in str(v) else None)
def test_every_raised_message_has_its_chinese(where, template):
    # A value in each place the message puts one ("X"), as a client would see it.
    sample = template.replace("{}", "X")
    zh = chinese(sample)
    assert zh is not None, f"{where}: no Chinese for {template!r}: add it to gridplanner.i18n.CATALOGUE"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), zh


def test_values_that_are_messages_are_translated_too():
    assert chinese("moving [620] from grid 3: the new boundary would cut through buildings [620]; draw it around them") == \
        "从网格 3 移出 [620]：新边界会切开建筑 [620]；请绕开它们画"


def test_literal_braces_in_values_stay():
    assert chinese("unknown coding rule 'x': use default, cjt349 or a template such as '{community}{seq:03}'") == \
        "未知的编码规则 'x'：请用 default、cjt349 或模板，例如 '{community}{seq:03}'"


def test_a_message_not_in_the_catalogue_keeps_its_english():
    assert text_for("something new", "zh") == UNTRANSLATED + "something new"
    assert text_for("something new", "en") == "something new"


@pytest.mark.parametrize("header,lang", [
    (None, "zh"), ("", "zh"), ("en", "en"), ("en-GB", "en"), ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
    ("en-US,en;q=0.9,zh-CN;q=0.8", "en"), ("fr-FR,en;q=0.5", "en"), ("fr", "zh"), ("zh;q=0.2,en;q=0.3", "en"),
    ("en;q=bogus,zh", "zh"),
])
def test_accept_language(header, lang):
    assert language(header) == lang


def test_the_api_answers_in_chinese_unless_english_is_asked_for(client):
    zh = client.get("/api/v1/plans/987654")
    assert zh.status_code == 404
    assert zh.json()["detail"] == "没有方案 987654" and zh.json()["detail_en"] == "no plan 987654"
    en = client.get("/api/v1/plans/987654", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert en.json()["detail"] == "no plan 987654" == en.json()["detail_en"]


def test_no_such_route_or_method_is_said_in_chinese(client):
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404 and missing.json() == {"detail": "未找到", "detail_en": "Not Found"}
    wrong = client.put("/api/v1/search", params={"q": "x"})
    assert wrong.status_code == 405 and wrong.json()["detail"] == "不支持此请求方法" and "GET" in wrong.headers["allow"]


def test_a_refusal_by_role_is_said_in_chinese(client_as):
    viewer = client_as("viewer")
    r = viewer.post("/api/v1/plans", json={"name": "x"})
    assert r.status_code == 403
    assert "只读" in r.json()["detail"] and "read-only" in r.json()["detail_en"]


def test_an_internal_error_says_it_is_ours_and_where_it_was_logged(db, caplog):
    from fastapi.testclient import TestClient

    from tests.conftest import _app, login_as

    app = _app(db)

    def boom():
        raise KeyError("a bug")

    # Before the web app's catch-all mount.
    app.add_api_route("/api/v1/_boom", boom)
    app.router.routes.insert(0, app.router.routes.pop())

    with TestClient(app, raise_server_exceptions=False) as c:
        login_as(db, c, "test-admin", "admin")
        r = c.get("/api/v1/_boom", headers={"Accept-Language": "en"})
        zh = c.get("/api/v1/_boom")
    assert r.status_code == 500
    body = r.json()
    assert "internal error in Gridplanner" in body["detail"] and "not a problem with your request" in body["detail"]
    assert body["error_id"] in body["detail"]
    assert any(body["error_id"] in rec.getMessage() and rec.exc_info for rec in caplog.records)
    assert zh.json()["detail"].startswith("网格规划系统内部错误")


def test_a_reason_inside_a_reason_is_translated_whole():
    en = ("malformed code '330106001400001': community part 330106001400: community part 400 is outside "
          "居委会 001–199 / 村委会 200–399")
    assert chinese(en) == "编码 '330106001400001' 格式不对：社区部分 330106001400：村级部分 400 超出 居委会 001–199 / 村委会 200–399"
