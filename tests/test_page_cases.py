"""The 案件 tab as a planner and a supervisor use it, in chromium against the real service: a planner opens
a saved round's cases and assigns a team; a supervisor works one through the visit (the 疑点清单 marked
line by line), the facility's statement, the decision, an overdue rectification and the follow-up, to
closed, every step on the timeline. Screenshots in build/test-artifacts/page/."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.service_fixtures import Served, _auth, _drop_finding
from tests.test_page import ARTIFACTS, DESKTOP, PHONE, _axe, _page, _shot, _sign_in, browser  # noqa: F401

pytestmark = pytest.mark.slow


def _finding(served: Served, insp_id: str) -> tuple[Any, ...]:
    """(violation types, amount recovered, amount involved) of the finding the case's decision recorded."""
    from records import Finding
    from serving.store import open_database

    db = open_database(served.trained.province.workspace)
    try:
        with db.session() as s:
            f = s.get(Finding, insp_id)
            assert f is not None, insp_id
            return f.violation_types, f.amount_recovered, f.amount_involved
    finally:
        db.dispose()


def _step(page: Any, label: str, fill: dict[str, str] | None = None) -> None:
    page.click(f"#case-actions button:has-text('{label}')")
    for name, value in (fill or {}).items():
        page.fill(f"#case-step [name={name}]", value)
    page.click("#case-step-submit")
    page.wait_for_selector(f"#status:has-text('{label}')", timeout=30_000)


def test_a_case_is_opened_assigned_worked_and_closed_on_the_page(browser: Any, live: str, served: Served) -> None:  # noqa: F811
    saved = httpx.post(live + "/api/rounds", json={"capacity": 4, "note": "页面案件"}, headers=_auth(served, "planner"),
                       timeout=120)
    assert saved.status_code == 200, saved.text
    rid = saved.json()["round_id"]
    case_id = f"{rid}-001"
    planner = _page(browser, DESKTOP, axe=True)
    try:
        _sign_in(planner, live, served.tokens["planner"])
        planner.click("#tabs [data-view=cases]")
        planner.wait_for_selector(f"#case-round option[value='{rid}']", state="attached", timeout=30_000)
        planner.select_option("#case-round", rid)
        planner.click("#open-cases")
        planner.wait_for_selector(f"#case-table tbody tr[data-case='{case_id}']", timeout=30_000)
        assert planner.locator("#case-table tbody tr").count() == 4
        planner.click(f"#case-table tbody tr[data-case='{case_id}']")
        planner.wait_for_selector("#case-actions button:has-text('分派检查组')", timeout=30_000)
        assert planner.locator("#case-actions button:has-text('作出处理决定')").count() == 0
        today = date.today()
        _step(planner, "分派检查组", {"team": "张医生、李会计、王审计", "window_begin": str(today),
                                      "window_end": str(today + timedelta(days=4))})
        planner.wait_for_selector("#case-facts:has-text('张医生、李会计、王审计')", timeout=30_000)
        assert planner.locator("#case-actions button").count() == 1  # only re-assigning is a planner's now
        assert _axe(planner) == []
        _shot(planner, "planner_cases_desktop")
    finally:
        planner.context.close()

    sup = _page(browser, DESKTOP, axe=True)
    try:
        _sign_in(sup, live, served.tokens["supervisor"])
        sup.click("#tabs [data-view=cases]")
        sup.fill("#case-member", "李会计")
        sup.click("#case-filters button[type=submit]")
        sup.wait_for_selector(f"#case-table tbody tr[data-case='{case_id}']", timeout=30_000)
        assert sup.locator("#open-cases").is_hidden()  # supervisors do not open a round's cases
        sup.click(f"#case-table tbody tr[data-case='{case_id}']")
        _step(sup, "开始现场检查")
        lines = sup.locator("#case-lines tbody tr")
        lines.first.wait_for(timeout=30_000)
        lines.nth(0).locator("button[data-verdict=confirmed]").click()
        sup.wait_for_selector("#case-tally:has-text('属实 1 条')", timeout=30_000)
        if lines.count() > 1:
            lines.nth(1).locator("button[data-verdict=rejected]").click()
            sup.wait_for_selector("#case-tally:has-text('不属实 1 条')", timeout=30_000)
        assert lines.nth(0).locator("button[data-verdict=confirmed]").get_attribute("aria-pressed") == "true"
        for label in ("起草问题清单", "告知机构"):
            _step(sup, label)
        _step(sup, "登记机构陈述申辩", {"note": "机构提交书面陈述"})
        sup.click("#case-actions button:has-text('作出处理决定')")
        sup.check("#case-violation-boxes input[value=over_prescription]")
        sup.fill("#case-step [name=amount_recovered]", "100")
        sup.click("#case-step-submit")
        sup.wait_for_selector("#status:has-text('作出处理决定')", timeout=30_000)
        assert _finding(served, case_id)[:2] == ("over_prescription", 100.0)
        with sup.expect_download(timeout=60_000) as dl:
            sup.click("#case-notices button[data-kind=decision]")
        notice = ARTIFACTS / f"{case_id}_处理决定书.pdf"
        dl.value.save_as(notice)
        assert notice.read_bytes().startswith(b"%PDF") and dl.value.suggested_filename.endswith("处理决定书.pdf")
        _step(sup, "责令整改", {"due_date": str(date.today() - timedelta(days=1))})
        sup.check("#case-overdue")
        sup.click("#case-filters button[type=submit]")
        sup.wait_for_selector(f"#case-table tbody tr[data-case='{case_id}'] .state.overdue", timeout=30_000)
        assert _axe(sup) == []
        _shot(sup, "supervisor_case_desktop")
        for label in ("完成复查", "结案"):
            _step(sup, label)
        sup.wait_for_selector("#case-actions:has-text('已结案')", timeout=30_000)
        steps = sup.locator("#case-timeline li")
        assert steps.count() == 10
        text = sup.text_content("#case-timeline") or ""
        words = ("已分派检查组", "陈述申辩中", "整改中", "已结案", "测试planner", "测试supervisor", "机构提交书面陈述")
        assert all(w in text for w in words), text
        assert sup.errors == []  # type: ignore[attr-defined]
    finally:
        sup.context.close()
        _drop_finding(served, case_id)


def test_the_case_list_is_cards_on_a_phone(browser: Any, live: str, served: Served) -> None:  # noqa: F811
    saved = httpx.post(live + "/api/rounds", json={"capacity": 3}, headers=_auth(served, "planner"), timeout=120)
    rid = saved.json()["round_id"]
    assert httpx.post(live + "/api/cases/open", json={"round_id": rid}, headers=_auth(served, "planner"),
                      timeout=60).status_code == 200
    page = _page(browser, PHONE, axe=True)
    try:
        _sign_in(page, live, served.tokens["supervisor"])
        page.click("#tabs [data-view=cases]")
        page.wait_for_selector(f"#case-table tbody tr[data-case='{rid}-001']", timeout=30_000)
        card = page.locator(f"#case-table tbody tr[data-case='{rid}-001']").bounding_box()
        assert card is not None and card["width"] > 300
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
        assert _axe(page) == []
        _shot(page, "supervisor_cases_phone")
    finally:
        page.context.close()
