"""The page as each role uses it, in chromium (Debian's, driven by Playwright) against the real service.

Two viewports: a desktop (1440×900) and a phone (390×844). Screenshots are kept as test artefacts in
build/test-artifacts/page/ (or $FEIJIAN_ARTIFACTS). axe-core (vendored, tests/vendor) checks each main
view: no serious or critical accessibility violation.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.english_words import english_code_words
from tests.service_fixtures import CHROMIUM_ARGS, Served, _auth, _drop_finding

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
ARTIFACTS = Path(os.environ.get("FEIJIAN_ARTIFACTS", Path(__file__).parents[1] / "build" / "test-artifacts")) / "page"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _page(browser: Any, viewport: dict[str, int], axe: bool = False) -> Any:
    # axe is injected as a script, which the page's CSP (rightly) forbids: only its pages bypass it
    ctx = browser.new_context(viewport=viewport, bypass_csp=axe, accept_downloads=True, locale="zh-CN")
    page = ctx.new_page()
    page.on("dialog", lambda d: d.accept())
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
    return page


def _sign_in(page: Any, live: str, token: str, path: str = "/ui/") -> None:
    page.goto(live + path)
    page.fill("#token", token)
    page.click("#save-token")
    page.wait_for_selector("#info:has-text('模型')", timeout=30_000)


def _shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 5_000
    return out


def _axe(page: Any) -> list[str]:
    """Serious and critical axe-core violations of the page as it is now (rule id: first target)."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))"
    )
    return list(found)


def _no_code_words(page: Any, live: str, served: Served) -> None:
    """What the page shows now names things in Chinese: no code word of the schema's lists, no identifier
    (but the registered model's name, which an analyst copies into MLflow)."""
    meta = httpx.post(live + "/api/info", json={}, headers=_auth(served, "analyst"), timeout=30).json()
    text = page.inner_text("body")
    assert english_code_words(text, allowed={str(meta["model"]["model_name"])}) == set(), text[:2000]


def _facility(live: str, served: Served) -> dict[str, Any]:
    """A planned facility with a name of at least four characters (searched for by part of it)."""
    r = httpx.post(live + "/api/plan", json={"capacity": 5}, headers=_auth(served, "planner"), timeout=60)
    return next(t for t in r.json()["targets"] if len(t["name"]) >= 4)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_supervisor_finds_a_facility_downloads_its_evidence_and_records_a_finding(
    browser: Any, live: str, served: Served, viewport: dict[str, int]
) -> None:
    import openpyxl

    fac = _facility(live, served)
    code, part = fac["fixmedins_code"], fac["name"][1:4]
    kind = "phone" if viewport is PHONE else "desktop"
    page = _page(browser, viewport, axe=True)
    insp_id = f"PAGE-{kind.upper()}-1"
    try:
        _sign_in(page, live, served.tokens["supervisor"])
        # a supervisor lands on search, and is shown no planning
        assert page.is_visible("#view-search") and not page.is_visible("#plan-btn")
        assert "监督检查员" in page.text_content("#me-role")
        page.fill("#q", part)
        page.press("#q", "Enter")
        row = page.locator(f"#search-table tbody tr[data-code='{code}']")
        row.wait_for(timeout=30_000)
        assert _axe(page) == []
        row.click()
        page.wait_for_selector("#detail-body h2", timeout=30_000)
        assert page.url.endswith(f"/ui/facility/{code}")
        assert page.is_visible("#detail") and page.is_visible("#dl-evidence") and page.is_visible("#dl-facility")
        if viewport is PHONE:  # the detail takes the whole width; the search list is out of the way
            assert not page.is_visible("#view-search")
            box = page.locator("#detail").bounding_box()
            assert box is not None and box["x"] >= 0 and box["width"] >= viewport["width"] - 40
        with page.expect_download(timeout=60_000) as dl:
            page.click("#dl-evidence")
        book = openpyxl.load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes()))
        for sheet in book.worksheets:  # the formatted workbook: Chinese headers, not column names
            head = [str(c.value) for c in sheet[1] if c.value is not None]
            assert head and all(any("\u4e00" <= ch <= "\u9fff" for ch in h) for h in head), (sheet.title, head)
        page.click("#finding summary")
        page.fill("#finding-form input[name=insp_id]", insp_id)
        page.fill("#finding-form input[name=insp_date]", "2025-02-15")
        page.fill("#finding-form input[name=batch]", "2025Q1")
        page.fill("#finding-form input[name=period_begn]", "2024-01-01")
        page.fill("#finding-form input[name=period_end]", "2024-12-31")
        page.check("#violation-boxes input[value=over_testing]")
        page.fill("#finding-form input[name=amount_involved]", "5000")
        page.fill("#finding-form input[name=amount_recovered]", "3200")
        page.select_option("#finding-form select[name=agreement_action]", "warning")
        page.click("#finding-form button[type=submit]")
        page.wait_for_selector("#finding-status:has-text('已保存')", timeout=30_000)
        hist = page.locator("#detail-body table.hist tbody tr", has_text=insp_id)
        hist.first.wait_for(timeout=30_000)
        text = hist.first.text_content() or ""
        assert all(w in text for w in ("本系统登记", "2025-02-15", "过度检查", "责令整改", "3,200")), text
        page.fill("#finding-form input[name=amount_recovered]", "3300")
        page.click("#finding-form button[type=submit]")
        page.wait_for_selector("#finding-status:has-text('已更新')", timeout=30_000)
        assert _axe(page) == []
        _no_code_words(page, live, served)
        _shot(page, f"supervisor_facility_{kind}")
        # the address opens the same facility in a new tab
        other = page.context.new_page()
        _sign_in(other, live, served.tokens["supervisor"], f"/ui/facility/{code}")
        other.wait_for_selector("#detail-body h2", timeout=30_000)
        assert fac["name"] in other.text_content("#detail-body h2")
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        page.context.close()
        _drop_finding(served, insp_id)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_planner_plans_a_round_with_its_chart_and_walks_it_by_keyboard(
    browser: Any, live: str, served: Served, viewport: dict[str, int]
) -> None:
    kind = "phone" if viewport is PHONE else "desktop"
    page = _page(browser, viewport, axe=True)
    try:
        _sign_in(page, live, served.tokens["planner"])
        assert page.is_visible("#view-plan") and page.is_visible("#plan-btn")
        assert not page.is_visible("#finding")  # planners do not record findings
        page.fill("#capacity", "8")
        page.click("#plan-btn")
        page.locator("#plan-table tbody tr").nth(7).wait_for(timeout=30_000)
        page.wait_for_selector("#chart-region svg", timeout=30_000)
        body = page.text_content("#plan-table tbody") or ""
        assert "9901" not in body, "region codes where names belong"
        assert _axe(page) == []
        _no_code_words(page, live, served)
        _shot(page, f"planner_round_{kind}")
        if viewport is PHONE:  # rows are cards: no 60 px column, no page 15,000 px long
            card = page.locator("#plan-table tbody tr").first.bounding_box()
            assert card is not None and card["width"] > 300
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"] + 1
        page.focus("#plan-table tbody tr:first-child")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        page.wait_for_selector("#detail-body h2", timeout=30_000)
        second = page.locator("#plan-table tbody tr").nth(1).get_attribute("data-code")
        assert page.url.endswith(f"/ui/facility/{second}")
        if viewport is DESKTOP:  # beside the list, not over it
            table = page.locator("#plan-table").bounding_box()
            detail = page.locator("#detail").bounding_box()
            assert table is not None and detail is not None and detail["x"] >= table["x"] + table["width"] - 1
        _no_code_words(page, live, served)
        _shot(page, f"planner_facility_{kind}")
        page.keyboard.press("Escape")
        assert not page.is_visible("#detail") and page.url.endswith("/ui/")
        assert page.evaluate("document.activeElement.dataset.code") == second
        # a failed plan says what is wrong in Chinese and leaves no stale list behind
        page.fill("#capacity", "0")
        page.click("#plan-btn")
        page.wait_for_selector("#status.error", timeout=30_000)
        msg = page.text_content("#status") or ""
        assert "检查名额" in msg and "validation" not in msg and "PlanRequest" not in msg
        assert page.locator("#plan-table tbody tr").count() == 0
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        page.context.close()


def test_each_role_sees_only_what_it_may_do(browser: Any, live: str, served: Served) -> None:
    visible = {  # element → the roles that see it
        "#plan-btn": {"planner", "admin"},
        "#save-round": {"planner", "admin"},
        "#tabs [data-view=search]": {"planner", "supervisor", "admin"},
        "#tabs [data-view=burden]": {"planner", "supervisor", "analyst", "admin"},
    }
    detail = {"#dl-evidence": {"supervisor", "admin"}, "#finding": {"supervisor", "admin"},
              "#dl-facility": {"planner", "supervisor", "admin"}}  # fmt: skip
    code = _facility(live, served)["fixmedins_code"]
    page = _page(browser, DESKTOP)
    try:
        for role, token in served.tokens.items():
            _sign_in(page, live, token)
            for sel, roles in visible.items():
                assert page.is_visible(sel) == (role in roles), f"{sel} as {role}"
            if role in detail["#dl-facility"]:
                page.goto(live + f"/ui/facility/{code}")
                page.wait_for_selector("#detail-body h2", timeout=30_000)
                for sel, roles in detail.items():
                    assert page.is_visible(sel) == (role in roles), f"{sel} as {role}"
            if role == "analyst":  # lands on the model card, and reads the burden view's charts
                assert page.is_visible("#view-model")
                page.wait_for_selector("#view-model:has-text('校准')", timeout=30_000)
                _no_code_words(page, live, served)
                page.click("#tabs [data-view=burden]")
                page.wait_for_selector("#chart-burden-admdvs svg", timeout=30_000)
            page.click("#sign-out")
        # a refused request reads as Chinese, naming what the role may not do
        r = httpx.post(live + "/api/plan", json={"capacity": 3}, headers=_auth(served, "supervisor"), timeout=30)
        assert r.status_code == 403 and "监督检查员" in r.json()["message"] and "生成检查计划" in r.json()["message"]
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        page.context.close()
