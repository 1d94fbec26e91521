"""Rendering shared by the reports: the jinja2 environment, number formats, HTML → PDF, the evidence sheet
(workbooks themselves are written by feijian.tabular, like every file a user opens in Excel)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

EVIDENCE_HEADERS = {
    "rule_id": "规则编号",
    "rule_name": "规则名称",
    "fixmedins_code": "机构编号",
    "mdtrt_id": "就诊ID",
    "feedetl_sn": "费用明细流水号",
    "psn_no": "人员编号（假名化）",
    "dr_code": "医师代码",
    "event_time": "发生时间",
    "med_list_codg": "医保目录编码",
    "amount_at_risk": "涉及金额（元）",
    "reason": "疑点说明",
}


def env() -> jinja2.Environment:
    e = jinja2.Environment(
        loader=jinja2.PackageLoader("serving.reports", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    e.filters["yuan"] = yuan
    e.filters["pct"] = pct
    e.filters["num"] = lambda v, d=2: "—" if v is None or v != v else f"{v:,.{d}f}"
    return e


def yuan(v: Any) -> str:
    if v is None or v != v:
        return "—"
    return f"{v:,.0f} 元"


def pct(v: Any, digits: int = 1) -> str:
    """A probability as a percentage: one decimal, two below 10 % (a physician's 0.37 % is not 0.0 %, and
    the many low-risk facilities near the calibration's floor stay apart: 3.42 %, 3.47 %).

    The same rule as the page's `fmtPct` (serving/web/static/app.js)."""
    if v is None or v != v:
        return "—"
    return f"{100 * v:.{digits + 1 if 0 < v < 0.1 else digits}f}%"


def css() -> str:
    from importlib import resources

    return resources.files("serving.reports").joinpath("templates", "report.css").read_text(encoding="utf-8")


def write_html(template: str, context: dict[str, Any], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(env().get_template(template).render(css=css(), **context), encoding="utf-8")
    return out


def write_pdf(html: Path, out: Path) -> Path:
    """A4 PDF of the HTML page (images resolved next to it); Chinese embedded from Noto CJK."""
    import logging

    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    HTML(filename=str(html), base_url=str(html.parent)).write_pdf(str(out))
    return out


def evidence_sheet(evidence: pd.DataFrame, rules: dict[str, Any]) -> pd.DataFrame:
    """The 疑点清单 with Chinese headers and the rule's Chinese name."""
    ev = evidence.copy()
    ev["rule_name"] = ev["rule_id"].map(lambda r: rules[r].name_zh if r in rules else r)
    ev["event_time"] = pd.to_datetime(ev["event_time"])  # a date in Excel, not text
    cols = [c for c in EVIDENCE_HEADERS if c in ev.columns]
    return ev[cols].rename(columns=EVIDENCE_HEADERS)
