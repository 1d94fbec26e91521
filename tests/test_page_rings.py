"""The 疑似团伙 view in chromium against the real service (the trained province, whose simulator plants
collusion rings): a supervisor opens a ring, reads its graph, features, members and evidence, downloads
the evidence and walks to a member's page and back; a planner sees the ring (and its tag in a plan) but no
evidence, at phone width. Screenshots in build/test-artifacts/page/, one kept as docs/screens/."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import httpx
import openpyxl

from tests.service_fixtures import Served, _auth
from tests.test_page import DESKTOP, PHONE, _axe, _no_code_words, _page, _shot, _sign_in, browser  # noqa: F401

SCREENS = Path(__file__).parents[1] / "docs" / "screens"
GRAPH = """() => { const c = echarts.getInstanceByDom(document.querySelector('#chart-ring'));
  const s = c.getOption().series[0];
  return {nodes: s.data.map((d) => d.id), links: s.links.length, legend: c.getOption().legend[0].data}; }"""


def _rings(live: str, served: Served) -> list[dict[str, Any]]:
    r = httpx.post(live + "/api/rings", json={}, headers=_auth(served, "admin"), timeout=30)
    assert r.status_code == 200 and r.json()["rings"], r.text
    return r.json()["rings"]


def _detail(live: str, served: Served, ring_id: str) -> dict[str, Any]:
    return httpx.post(live + "/api/ring", json={"ring_id": ring_id}, headers=_auth(served, "admin"), timeout=30).json()


def _open_ring(page: Any, ring_id: str, detail: dict[str, Any]) -> None:
    """Click the ring's row; wait for its graph and check it draws every member and every link."""
    page.click(f"#rings-table tbody tr[data-ring='{ring_id}']")
    page.wait_for_selector(f"#ring-title:has-text('{ring_id}')", timeout=30_000)
    page.wait_for_selector("#chart-ring svg", timeout=30_000)
    graph = page.evaluate(GRAPH)
    assert sorted(graph["nodes"]) == sorted(f"{m['kind']}:{m['code']}" for m in detail["members"])
    n_docs = sum(m["kind"] == "physician" for m in detail["members"])
    assert graph["links"] == len(detail["edges"]) + n_docs
    assert graph["legend"] == ["诊所", "药店", "医院", "医师"]
    n_feat = page.locator("#ring-features tbody tr").count()
    assert n_feat == len(detail["features"])
    share = page.locator("#ring-features tbody tr", has_text="团伙内支付占比").text_content() or ""
    assert "%" in share, share
    assert page.locator("#ring-members tbody tr").count() == len(detail["members"])
    assert page.locator("#ring-members a[data-facility]").count() >= len(detail["facilities"])


def test_a_supervisor_opens_a_ring_reads_its_evidence_and_downloads_it(browser: Any, live: str,  # noqa: F811
                                                                       served: Served) -> None:
    rings = _rings(live, served)
    ring = rings[0]
    detail = _detail(live, served, ring["ring_id"])
    n_ev = httpx.post(live + "/api/ring/evidence", json={"ring_id": ring["ring_id"], "limit": 1},
                      headers=_auth(served, "supervisor"), timeout=30).json()["n"]
    page = _page(browser, DESKTOP, axe=True)
    try:
        _sign_in(page, live, served.tokens["supervisor"])
        page.click("#tabs [data-view=rings]")
        page.wait_for_selector(f"#rings-table tbody tr[data-ring='{ring['ring_id']}']", timeout=30_000)
        assert page.locator("#rings-table tbody tr").count() == len(rings)
        first = page.locator("#rings-table tbody tr").first.text_content() or ""
        assert all(n in first for n in ring["names"]) and ring["reason_zh"] in first
        _open_ring(page, ring["ring_id"], detail)
        rows = page.locator("#ring-evidence tbody tr")
        rows.first.wait_for(timeout=30_000)
        assert rows.count() == min(50, n_ev)
        assert page.is_visible("#dl-ring-evidence")
        assert page.url.endswith(f"/ui/#ring={ring['ring_id']}")
        assert _axe(page) == []
        _no_code_words(page, live, served)
        shot = _shot(page, "supervisor_rings_desktop")
        SCREENS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENS / "supervisor_rings_desktop.png")
        with page.expect_download(timeout=60_000) as dl:
            page.click("#dl-ring-evidence")
        assert dl.value.suggested_filename == f"{ring['ring_id']}_团伙证据清单.xlsx"
        book = openpyxl.load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes()))
        assert "证据就诊清单" in book.sheetnames and book["证据就诊清单"].max_row - 1 == n_ev
        # a member's page says it is in the ring, and leads back to it
        code = ring["facilities"][0]
        page.click(f"#ring-members a[data-facility='{code}']")
        page.wait_for_selector("#detail-body h2", timeout=30_000)
        assert page.url.endswith(f"/ui/facility/{code}")
        box = page.locator("#detail-ring")
        assert box.is_visible() and ring["reason_zh"] in (box.text_content() or "")
        page.click(f"#detail-ring a[data-ring='{ring['ring_id']}']")
        page.wait_for_selector(f"#ring-title:has-text('{ring['ring_id']}')", timeout=30_000)
        assert not page.is_visible("#detail") and page.is_visible("#view-rings")
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        page.context.close()


def test_a_planner_sees_the_ring_and_its_plan_tag_but_no_evidence_at_phone_width(browser: Any, live: str,  # noqa: F811
                                                                                 served: Served) -> None:
    rings = _rings(live, served)
    ring = rings[0]
    detail = _detail(live, served, ring["ring_id"])
    page = _page(browser, PHONE, axe=True)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    try:
        _sign_in(page, live, served.tokens["planner"])
        # the plan marks the ring's members it plans
        page.fill("#capacity", "8")
        page.click("#plan-btn")
        page.locator("#plan-table tbody tr").nth(7).wait_for(timeout=30_000)
        tags = page.locator("#plan-table .badge.ring")
        assert tags.count() >= 1 and all(t.startswith("团伙 RG-") for t in tags.all_text_contents())
        assert "疑似团伙" in (page.text_content("#plan-summary") or "")
        page.click("#tabs [data-view=rings]")
        page.wait_for_selector(f"#rings-table tbody tr[data-ring='{ring['ring_id']}']", timeout=30_000)
        _open_ring(page, ring["ring_id"], detail)
        assert not page.is_visible("#ring-evidence-box") and not page.is_visible("#dl-ring-evidence")
        assert page.locator("#ring-evidence tbody tr").count() == 0
        assert not any("/evidence" in u or "/download/" in u for u in asked), [u for u in asked if "evidence" in u]
        # phone width: rows are cards, nothing wider than the screen
        card = page.locator("#rings-table tbody tr").first.bounding_box()
        assert card is not None and card["width"] > 300
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
        chart = page.locator("#chart-ring").bounding_box()
        assert chart is not None and chart["width"] <= PHONE["width"] and chart["height"] > 200
        assert _axe(page) == []
        _no_code_words(page, live, served)
        _shot(page, "planner_rings_phone")
        # the ring's address opens it directly in a new tab
        other = page.context.new_page()
        _sign_in(other, live, served.tokens["planner"], f"/ui/#ring={ring['ring_id']}")
        other.wait_for_selector(f"#ring-title:has-text('{ring['ring_id']}')", timeout=30_000)
        assert other.is_visible("#view-rings") and not other.is_visible("#ring-evidence-box")
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        page.context.close()
    # an analyst (no explain right) is not shown the view
    page = _page(browser, DESKTOP)
    try:
        _sign_in(page, live, served.tokens["analyst"])
        assert not page.is_visible("#tabs [data-view=rings]")
    finally:
        page.context.close()
