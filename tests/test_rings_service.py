"""The suspected rings (疑似团伙) as the service serves them, in-process against the trained province (the
simulator plants collusion rings in it, simulator.rings): every ring route under every role, unknown and
malformed ids, the evidence workbook, a member's explanation and a plan's joint inspections."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from tests.service_fixtures import Served, _auth

ROLES = ("planner", "supervisor", "analyst", "admin")
ROUTES = {  # route → the right it needs (serving/permissions.py)
    "/api/rings": "explain",
    "/api/ring": "explain",
    "/api/ring/evidence": "evidence",
    "/ui/download/ring_evidence/{ring_id}": "evidence",
}
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _post(client: Any, served: Served, role: str, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json=body, headers=_auth(served, role))


@pytest.fixture(scope="module")
def rings(client: Any, served: Served) -> list[dict[str, Any]]:
    r = _post(client, served, "admin", "/api/rings", {})
    assert r.status_code == 200, r.text
    found = r.json()["rings"]
    assert found, "the simulated province plants rings: the served snapshot must hold at least one"
    return found


def _call(client: Any, served: Served, role: str, route: str, ring_id: str) -> Any:
    if route.startswith("/ui/"):
        return client.get(route.format(ring_id=ring_id), headers=_auth(served, role))
    body = {} if route == "/api/rings" else {"ring_id": ring_id, "limit": 5}
    return _post(client, served, role, route, body)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", list(ROUTES))
def test_each_ring_route_answers_the_roles_with_its_right_and_refuses_the_rest_in_chinese(
    client: Any, served: Served, rings: list[dict[str, Any]], role: str, route: str
) -> None:
    from serving.permissions import allowed

    ring = rings[0]
    r = _call(client, served, role, route, ring["ring_id"])
    if not allowed(role, ROUTES[route]):
        assert r.status_code == 403, (role, route, r.status_code)
        msg = r.json()["message"]
        assert CHINESE.search(msg) and "无权" in msg, msg
        return
    assert r.status_code == 200, (role, route, r.text[:300])
    if route == "/api/rings":
        body = r.json()
        assert body["n"] == len(body["rings"]) >= 1 and CHINESE.search(body["ranking_zh"])
        for g in body["rings"]:
            assert re.fullmatch(r"RG-[0-9A-F]{8}", g["ring_id"])
            assert len(g["facilities"]) == len(g["names"]) == g["n_facilities"] >= 2
            assert 0 <= g["score"] <= 1 and g["expected_recovery"] >= 0 and g["n_persons"] >= 10
            assert CHINESE.search(g["reason_zh"])
        values = [g["expected_recovery"] for g in body["rings"]]
        assert values == sorted(values, reverse=True)  # best expected recovery first
    elif route == "/api/ring":
        d = r.json()
        assert d["ring_id"] == ring["ring_id"] and d["facilities"] == ring["facilities"]
        facs = [m for m in d["members"] if m["kind"] == "facility"]
        assert sorted(m["code"] for m in facs) == sorted(ring["facilities"])
        assert all({"p_serious", "expected_recovery", "fixmedins_type", "name"} <= set(m) for m in facs)
        docs = [m for m in d["members"] if m["kind"] == "physician"]
        assert all(m["fixmedins_code"] in ring["facilities"] for m in docs)
        cards = [e for e in d["edges"] if e["kind"] == "cards"]
        assert cards and all(e["a"] in ring["facilities"] and e["b"] in ring["facilities"] for e in d["edges"])
        assert all(e["persons"] >= 10 and e["burst_days"] >= 2 and e["fund_pay"] > 0 for e in cards)
        assert {f["name"] for f in d["features"]} >= {"n_persons", "inside_share", "burst_days"}
        assert all(CHINESE.search(f["label"]) for f in d["features"])
    elif route == "/api/ring/evidence":
        e = r.json()
        assert e["ring_id"] == ring["ring_id"] and e["n"] >= len(e["rows"]) > 0 and len(e["rows"]) <= 5
        assert {"mdtrt_id", "psn_no", "fixmedins_code", "visit_day", "fund_pay"} <= set(e["rows"][0])
        assert all(row["fixmedins_code"] in ring["facilities"] for row in e["rows"])
        pays = [row["fund_pay"] for row in e["rows"]]
        assert pays == sorted(pays, reverse=True)
    else:
        assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert "attachment" in r.headers["content-disposition"]
        book = openpyxl.load_workbook(io.BytesIO(r.content))
        assert "证据就诊清单" in book.sheetnames


def test_an_unknown_ring_is_404_and_a_malformed_id_400_in_chinese(client: Any, served: Served) -> None:
    for path in ("/api/ring", "/api/ring/evidence"):
        r = _post(client, served, "admin", path, {"ring_id": "RG-00000000"})
        assert r.status_code == 404 and r.json()["message"] == "疑似团伙 RG-00000000 不在当前数据中", (path, r.text)
        for bad in ("rg-1a2b3c4d", "RG-1234", "RG-0000000G", "../../etc", ""):
            r = _post(client, served, "admin", path, {"ring_id": bad})
            assert r.status_code == 400 and CHINESE.search(r.json()["message"]), (path, bad, r.text)
            assert bad == "" or bad not in r.json()["message"]  # the value sent is never quoted back
    r = client.get("/ui/download/ring_evidence/RG-00000000", headers=_auth(served, "supervisor"))
    assert r.status_code == 404 and r.json()["message"] == "疑似团伙 RG-00000000 不在当前数据中"
    for bad in ("rg-1a2b3c4d", "RG-1234", "%3Cscript%3E"):
        r = client.get(f"/ui/download/ring_evidence/{bad}", headers=_auth(served, "supervisor"))
        assert r.status_code == 400 and CHINESE.search(r.json()["message"]), (bad, r.text)
        assert "script" not in r.text


def test_the_evidence_workbook_is_a_real_xlsx_of_the_ring_and_formula_safe(
    client: Any, served: Served, rings: list[dict[str, Any]], tmp_path: Path
) -> None:
    from tests.test_excel_safe import xlsx_cells

    ring = rings[0]
    r = client.get(f"/ui/download/ring_evidence/{ring['ring_id']}", headers=_auth(served, "supervisor"))
    assert r.status_code == 200 and r.content[:2] == b"PK"
    out = tmp_path / "ring.xlsx"
    out.write_bytes(r.content)
    xlsx_cells(out)  # fails on any formula, in openpyxl's view or in the sheet XML
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["团伙概况", "成员", "关联", "证据就诊清单"]
    ev = book["证据就诊清单"]
    head = [c.value for c in ev[1]]
    assert head[:3] == ["就诊ID", "参保人（假名）", "机构编号"] and all(CHINESE.search(str(h)) for h in head if h)
    n = _post(client, served, "supervisor", "/api/ring/evidence", {"ring_id": ring["ring_id"]}).json()["n"]
    assert ev.max_row - 1 == n  # every shared card's visit, not only the page's first rows
    assert {row[2] for row in ev.iter_rows(min_row=2, values_only=True)} <= set(ring["facilities"])


def test_a_ring_workbook_neutralises_formula_names(client: Any, served: Served, rings: list[dict[str, Any]],
                                                    tmp_path: Path) -> None:
    """A facility named like a formula (claims exports are not ours) comes out as text with a leading quote."""
    from features.snapshot import latest_snapshot
    from serving.rings import RingBook, write_ring_workbook
    from tests.test_excel_safe import xlsx_cells

    ring = rings[0]
    d = _post(client, served, "admin", "/api/ring", {"ring_id": ring["ring_id"]}).json()
    facs = [m for m in d["members"] if m["kind"] == "facility"]
    evil = '=HYPERLINK("http://x","y")'
    scored = pd.DataFrame({"fixmedins_code": [m["code"] for m in facs], "fixmedins_name": [evil] * len(facs),
                           "fixmedins_type": [m["fixmedins_type"] for m in facs],
                           "p_serious": [m["p_serious"] for m in facs], "amount_if_serious": [1000.0] * len(facs),
                           "expected_recovery": [m["expected_recovery"] for m in facs]})
    book = RingBook(latest_snapshot(served.trained.province.workspace), scored)
    out = write_ring_workbook(book, ring["ring_id"], tmp_path / "evil.xlsx")
    texts = [c.value for c in xlsx_cells(out) if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert texts and all(t == "'" + evil for t in texts), texts[:3]


def test_a_ring_members_explanation_names_its_ring(client: Any, served: Served, rings: list[dict[str, Any]]) -> None:
    ring = rings[0]
    for code in ring["facilities"]:
        r = _post(client, served, "supervisor", "/api/explain", {"code": code})
        assert r.status_code == 200, r.text
        got = r.json()["ring"]
        assert got["ring_id"] == ring["ring_id"] and got["facilities"] == ring["facilities"]
        assert got["names"] == ring["names"] and got["reason_zh"] == ring["reason_zh"]
    members = {c for g in rings for c in g["facilities"]}
    plan = _post(client, served, "planner", "/api/plan", {"capacity": 30}).json()
    outside = next(t["fixmedins_code"] for t in plan["targets"] if t["fixmedins_code"] not in members)
    assert _post(client, served, "supervisor", "/api/explain", {"code": outside}).json()["ring"] is None


@pytest.mark.parametrize("joint", [True, False], ids=["joint", "marked-only"])
def test_a_plan_marks_the_ring_members_it_plans_and_joins_them_only_when_asked(
    client: Any, served: Served, rings: list[dict[str, Any]], joint: bool
) -> None:
    """Observed in the served province: the ring's members rank near the top on their own, so the same
    facilities are planned either way; every planned member carries its ring_id and meta.rings lists it.
    `joint` may be true for a ring only with joint_rings, and then all its eligible members are planned."""
    ring_of = {c: g["ring_id"] for g in rings for c in g["facilities"]}
    body = {"capacity": 8, "exclude_days": 0, "clean_cooldown_days": 0, "exploration_share": 0.0, "joint_rings": joint}
    r = _post(client, served, "planner", "/api/plan", body)
    assert r.status_code == 200, r.text
    targets, meta = r.json()["targets"], r.json()["meta"]
    assert len(targets) == 8
    marked = {t["fixmedins_code"]: t["ring_id"] for t in targets if t["ring_id"]}
    assert marked and marked == {c: ring_of[c] for c in marked}  # a member's own ring, nothing else marked
    assert {t["fixmedins_code"] for t in targets if t["fixmedins_code"] in ring_of} == set(marked)
    best = rings[0]
    assert set(best["facilities"]) <= set(marked), "the best ring's members are all planned together"
    listed = {g["ring_id"]: g for g in meta["rings"]}
    assert set(listed) == set(marked.values())
    for rid, g in listed.items():
        assert set(g["facilities"]) == {c for c, x in marked.items() if x == rid}
        assert not g["joint"] or (joint and g["not_planned"] == [])
    if not joint:
        assert not any(g["joint"] for g in meta["rings"])
