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


def _take(page: Any, case_id: str, label: str, fill: dict[str, str] | None = None) -> None:
    """Open the case from the list (unless it is open) and take one step through the page's form."""
    if (page.text_content("#case-title") or "").split(" · ")[0] != case_id or page.locator("#case-view").is_hidden():
        page.click(f"#case-table tbody tr[data-case='{case_id}']")
        page.wait_for_selector(f"#case-title:has-text('{case_id}')", timeout=30_000)
    page.click(f"#case-actions button:text-is('{label}')")
    for name, value in (fill or {}).items():
        page.fill(f"#case-step [name={name}]", value)
    page.click("#case-step-submit")
    page.wait_for_selector(f"#status:has-text('案件 {case_id}：{label}')", timeout=30_000)


def _round_cases(page: Any, live: str, token: str, rid: str, last: str, button: str) -> None:
    """Signed in, on 案件, the round chosen and `button` pressed (open its cases, or list them)."""
    _sign_in(page, live, token)
    page.click("#tabs [data-view=cases]")
    page.wait_for_selector(f"#case-round option[value='{rid}']", state="attached", timeout=30_000)
    page.select_option("#case-round", rid)
    page.click(button)
    page.wait_for_selector(f"#case-table tbody tr[data-case='{last}']", timeout=30_000)


def test_a_round_of_30_cases_is_walked_to_closed_in_the_browser(browser: Any, live: str, served: Served  # noqa: F811
                                                                ) -> None:
    """Every case of a 30-pick round: assigned by a planner, worked and decided by a supervisor (three
    facilities state their case, ten are ordered to rectify, one of them overdue), all on the page; the
    steps a role may not take are not offered to it."""
    saved = httpx.post(live + "/api/rounds", json={"capacity": 30, "note": "页面30件"},
                       headers=_auth(served, "planner"), timeout=120)
    rid = saved.json()["round_id"]
    ids = [f"{rid}-{i:03d}" for i in range(1, 31)]
    today = date.today()
    planner = _page(browser, DESKTOP)
    try:
        _round_cases(planner, live, served.tokens["planner"], rid, ids[-1], "#open-cases")
        for i, cid in enumerate(ids):
            _take(planner, cid, "分派检查组", {"team": "张医生、李会计" if i % 2 else "王审计",
                                              "window_begin": str(today), "window_end": str(today + timedelta(days=5))})
            # the visit is not a planner's
            assert planner.locator("#case-actions button:text-is('开始现场检查')").count() == 0
        assert planner.errors == []  # type: ignore[attr-defined]
    finally:
        planner.context.close()
    sup = _page(browser, DESKTOP)
    try:
        _round_cases(sup, live, served.tokens["supervisor"], rid, ids[-1], "#case-filters button[type=submit]")
        assert sup.locator("#open-cases").is_hidden() and sup.locator("#new-outside").is_hidden()
        for i, cid in enumerate(ids):
            _take(sup, cid, "开始现场检查")
            assert sup.locator("#case-actions button:text-is('调整检查组')").count() == 0  # a planner's step
            sup.wait_for_selector(f"#case-lines[data-shows='{cid}:on_site']", state="attached", timeout=30_000)
            first = sup.locator("#case-lines tbody tr button[data-verdict=confirmed]").first
            if first.count():  # a facility with no rule hit has an empty worklist
                first.click()
                sup.wait_for_selector("#case-tally:has-text('属实 1 条')", timeout=30_000)
            _take(sup, cid, "起草问题清单")
            _take(sup, cid, "告知机构")
            if i < 3:
                _take(sup, cid, "登记机构陈述申辩", {"note": "机构书面陈述申辩"})
            _take(sup, cid, "作出处理决定")
            if i < 10:
                due = today - timedelta(days=1) if i == 0 else today + timedelta(days=30)
                _take(sup, cid, "责令整改", {"due_date": str(due)})
            else:
                _take(sup, cid, "结案（无需整改）")
        sup.check("#case-overdue")
        sup.click("#case-filters button[type=submit]")
        # the filtered list has replaced the whole round's (its row was marked overdue there too)
        sup.wait_for_selector("#case-summary:has-text('共 1 件')", timeout=30_000)
        sup.wait_for_selector(f"#case-table tbody tr[data-case='{ids[0]}'] .state.overdue", timeout=30_000)
        assert sup.locator("#case-table tbody tr").count() == 1  # only the rectification past its due date
        sup.uncheck("#case-overdue")
        sup.click("#case-filters button[type=submit]")
        sup.wait_for_selector(f"#case-table tbody tr[data-case='{ids[9]}']", timeout=30_000)
        for cid in ids[:10]:
            _take(sup, cid, "完成复查")
            _take(sup, cid, "结案")
        assert sup.errors == []  # type: ignore[attr-defined]
    finally:
        sup.context.close()
        for cid in ids:
            _drop_finding(served, cid)
    closed = httpx.post(live + "/api/cases/list", json={"round_id": rid, "state": "closed"},
                        headers=_auth(served, "supervisor"), timeout=60).json()
    assert closed["n"] == 30
    first = httpx.post(live + "/api/case", json={"case_id": ids[0]}, headers=_auth(served, "supervisor"),
                       timeout=60).json()
    assert [e["target"] for e in first["timeline"]] == [
        "planned", "assigned", "on_site", "findings_drafted", "notified", "appeal", "decided", "rectification_due",
        "followed_up", "closed"]


def test_an_outside_inspection_with_points_and_the_rule_quality_tab(browser: Any, live: str, served: Served  # noqa: F811
                                                                   ) -> None:
    """A planner opens a tip-off's case on the page; a supervisor decides it giving a physician points;
    an analyst reads each rule's confirmed share on 规则质量, with no facility named."""
    code = httpx.post(live + "/api/plan", json={"capacity": 1}, headers=_auth(served, "planner"),
                      timeout=60).json()["targets"][0]["fixmedins_code"]
    planner = _page(browser, DESKTOP, axe=True)
    case_id = None
    try:
        _sign_in(planner, live, served.tokens["planner"])
        planner.click("#tabs [data-view=cases]")
        planner.click("#new-outside")
        form = {"fixmedins_code": code, "batch": "举报线索核查", "period_begn": "2024-01-01",
                "period_end": "2024-12-31", "reason": "参保人举报：未住院却有住院结算"}
        for name, value in form.items():
            planner.fill(f"#outside-form [name={name}]", value)
        planner.select_option("#outside-form [name=selection]", "tip_off")
        assert _axe(planner) == []
        planner.click("#outside-form button[type=submit]")
        planner.wait_for_selector("#status:has-text('已开立批次外检查案件')", timeout=30_000)
        case_id = (planner.text_content("#case-title") or "").split(" · ")[0]
        assert case_id.startswith("W") and "举报线索核查" in (planner.text_content("#case-facts") or "")
        _take(planner, case_id, "分派检查组", {"team": "赵医师、钱会计", "window_begin": str(date.today()),
                                               "window_end": str(date.today())})
    finally:
        planner.context.close()
    sup = _page(browser, DESKTOP)
    try:
        _sign_in(sup, live, served.tokens["supervisor"])
        sup.click("#tabs [data-view=cases]")
        sup.wait_for_selector("#case-round option[value=outside]", state="attached", timeout=30_000)
        sup.select_option("#case-round", "outside")
        sup.click("#case-filters button[type=submit]")
        sup.wait_for_selector(f"#case-table tbody tr[data-case='{case_id}']", timeout=30_000)
        _take(sup, case_id, "开始现场检查")
        sup.wait_for_selector(f"#case-lines[data-shows='{case_id}:on_site']", state="attached", timeout=30_000)
        sup.locator("#case-lines tbody tr button[data-verdict=confirmed]").first.click()  # the plan's top has hits
        sup.wait_for_selector("#case-tally:has-text('属实 1 条')", timeout=30_000)
        for label in ("起草问题清单", "告知机构"):
            _take(sup, case_id, label)
        sup.click("#case-actions button:text-is('作出处理决定')")
        points = sup.locator("#case-points input")
        points.first.wait_for(timeout=30_000)
        doctor = points.first.get_attribute("data-dr")
        points.first.fill("3")
        sup.fill("#case-step [name=insp_date]", "2025-01-20")
        sup.click("#case-step-submit")
        sup.wait_for_selector(f"#status:has-text('案件 {case_id}：作出处理决定')", timeout=30_000)
        assert sup.errors == []  # type: ignore[attr-defined]
    finally:
        sup.context.close()
    from records import read_findings
    from serving.store import open_database

    db = open_database(served.trained.province.workspace)
    try:
        insp, pts, _ = read_findings(db)
    finally:
        db.dispose()
    try:
        row = insp.set_index("insp_id").loc[case_id]
        assert (row["selection"], row["batch"]) == ("tip_off", "举报线索核查")
        assert str(row["insp_date"])[:10] == "2025-01-20"
        assert pts[pts["insp_id"] == case_id][["dr_code", "points"]].values.tolist() == [[doctor, 3]]
    finally:
        _drop_finding(served, case_id)
    analyst = _page(browser, DESKTOP, axe=True)
    try:
        _sign_in(analyst, live, served.tokens["analyst"])
        assert analyst.locator("#tabs [data-view=cases]").is_hidden()
        analyst.click("#tabs [data-view=quality]")
        analyst.wait_for_selector("#quality-table tbody tr", timeout=30_000)
        text = analyst.text_content("#quality-table") or ""
        assert "属实比例" in text and "R-" in text
        assert "规则参数未曾调整" in (analyst.text_content("#rule-changes") or "")
        analyst.check("#quality-by-type")
        analyst.click("#quality-form button[type=submit]")
        analyst.wait_for_selector("#quality-table tbody td[data-label=机构类型]:not(:text-is('全部'))", timeout=30_000)
        analyst.check("#quality-by-quarter")
        analyst.click("#quality-form button[type=submit]")
        quarter = analyst.locator("#quality-table tbody td[data-label=检查季度]").first
        quarter.wait_for(timeout=30_000)
        analyst.wait_for_selector("#quality-table tbody td[data-label=检查季度]:text-matches('^20[0-9]{2}Q[1-4]$')",
                                  timeout=30_000)
        assert _axe(analyst) == []
        _shot(analyst, "analyst_rule_quality_desktop")
        assert analyst.errors == []  # type: ignore[attr-defined]
    finally:
        analyst.context.close()
