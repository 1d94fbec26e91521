"""The papers a planner and a supervisor take away, on the simulated province: the round report and the
facility reports (HTML/PDF text and workbooks) speak Chinese — no code word a reader would have to look
up (`tip_off`, `terminate`, `pharmacy|0`, a region code without its name) — and every workbook reads alike.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from features.schema import AGREEMENT_ACTION
from serving.explain import Explainer
from serving.plan import plan_round
from serving.reports.facility import write_facility_report
from serving.reports.round import write_round_report
from tests.english_words import english_code_words, visible_html_text
from training.bundle import Bundle, champion_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def papers(trained: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    ws = trained.province.workspace
    explainer = Explainer.build(ws, Bundle.load(champion_path(trained.models)))
    insp = explainer.inspections()
    # one planned facility suspended at an inspection outside the 180-day exclusion: flagged besides any the
    # province's own history flags
    before = plan_round(explainer.scored(), insp, explainer.as_of, 8).targets
    first = before.loc[before["flag"].isna(), "fixmedins_code"].iloc[0]
    suspended = insp[insp["fixmedins_code"] == first].tail(1).assign(
        insp_id="PAPERS-SUSPEND", agreement_action="suspend", insp_date=explainer.as_of - timedelta(days=200))
    insp = pd.concat([insp, suspended], ignore_index=True)
    plan = plan_round(explainer.scored(), insp, explainer.as_of, 8)
    flagged = plan.targets.loc[plan.targets["flag"].notna(), "fixmedins_code"].tolist()
    assert first in flagged and len(flagged) == before["flag"].notna().sum() + 1
    out = tmp_path_factory.mktemp("papers")
    # the planned facilities, and the ones whose history holds the codes a reader must see in Chinese
    sanctioned = insp.loc[insp["agreement_action"].isin(list(AGREEMENT_ACTION)), "fixmedins_code"].astype(str)
    codes = list(dict.fromkeys([*plan.targets["fixmedins_code"].astype(str).head(3), *sanctioned.head(2)]))
    return {
        "explainer": explainer,
        "round": write_round_report(plan, explainer, out / "round"),
        "facilities": {c: write_facility_report(explainer, c, out / c) for c in codes},
        "allowed": {str(explainer.bundle.meta.get("model_name") or "")},
    }


def _cells(xlsx: Path) -> list[tuple[str, str, str]]:
    book = openpyxl.load_workbook(xlsx)
    return [(ws.title, c.coordinate, str(c.value)) for ws in book.worksheets for row in ws.iter_rows()
            for c in row if isinstance(c.value, str)]  # fmt: skip


def test_reports_and_workbooks_have_no_english_code_words(papers: dict[str, Any]) -> None:
    files = [papers["round"], *papers["facilities"].values()]
    assert len(papers["facilities"]) >= 3
    for paths in files:
        html = paths["html"].read_text(encoding="utf-8")
        assert not english_code_words(visible_html_text(html), papers["allowed"]), paths["html"].name
        found = {(s, c, w) for s, c, v in _cells(paths["xlsx"]) for w in english_code_words(v, papers["allowed"])}
        assert not found, (paths["xlsx"].name, sorted(found)[:10])


def test_a_sanctioned_history_and_the_peer_group_read_in_chinese(papers: dict[str, Any]) -> None:
    explainer: Explainer = papers["explainer"]
    regions = explainer.regions
    assert regions, "the simulator writes the region name table"
    seen_action = False
    for code, paths in papers["facilities"].items():
        text = visible_html_text(paths["html"].read_text(encoding="utf-8"))
        target = explainer.explain(code)["target"]
        assert f"医保区划 {regions[str(target['admdvs'])]}" in text
        assert f"同类组 {target['peer_group_zh']}" in text and "|" not in target["peer_group_zh"]
        seen_action |= any(v in text for v in AGREEMENT_ACTION.values())
    assert seen_action, "a facility with an agreement sanction shows it in Chinese in 检查历史"


def test_the_round_report_names_regions_and_draws_them(papers: dict[str, Any]) -> None:
    regions = papers["explainer"].regions
    html = papers["round"]["html"].read_text(encoding="utf-8")
    assert papers["round"]["png"].name in html and papers["round"]["png"].stat().st_size > 5_000
    book = openpyxl.load_workbook(papers["round"]["xlsx"])
    names = {ws.cell(r, 1).value for ws in [book["按地区汇总"]] for r in range(2, ws.max_row + 1)}
    assert names and names <= set(regions.values())


def test_every_workbook_has_filters_frozen_headers_and_number_formats(papers: dict[str, Any]) -> None:
    files = [papers["round"]["xlsx"], *(p["xlsx"] for p in papers["facilities"].values())]
    money = 0
    for xlsx in files:
        for ws in openpyxl.load_workbook(xlsx).worksheets:
            assert ws.freeze_panes == "A2" and ws.auto_filter.ref, (xlsx.name, ws.title)
            for j, head in enumerate(ws[1], start=1):
                if str(head.value).endswith("（元）") and ws.max_row > 1:
                    assert ws.cell(2, j).number_format == "#,##0.00", (xlsx.name, ws.title, head.value)
                    money += 1
                if str(head.value).endswith("概率") and ws.max_row > 1:
                    assert ws.cell(2, j).number_format == "0.0%", (xlsx.name, ws.title, head.value)
    assert money >= 3
    sheet = openpyxl.load_workbook(files[1])["疑点清单"]
    col = [c.value for c in sheet[1]].index("发生时间") + 1
    assert sheet.cell(2, col).is_date  # dates as dates, not text
