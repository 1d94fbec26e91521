"""The facility report: who, how risky, why (reasons, peers, waterfall), the evidence to pull on site.

HTML (jinja2), an A4 PDF of it (WeasyPrint) and an Excel workbook of the evidence (疑点汇总 and the
full 疑点清单). The PDF lists at most `PDF_ROWS` evidence rows per rule; the workbook lists all.
With `claims=False` (a reader without the evidence right) the claim rows are left out of all three:
the report keeps the rule-hit summary that /api/explain gives, and says where the list is.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from explain.charts import waterfall
from features.snapshot.registry import PEER_PCT, PEER_Z, get
from feijian.tabular import write_xlsx
from serving.reports import render

if TYPE_CHECKING:
    from serving.explain import Explainer

PDF_ROWS = 30
N_PEER = 8


def peer_table(explainer: Explainer, code: str, reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Value, peer median, z-score and percentile of each reason's lead feature."""
    lv = explainer.facilities
    row = lv.frame.iloc[lv.row(code)]
    out = []
    for r in reasons[:N_PEER]:
        f = get(r["feature"])
        z = row.get(r["feature"] + PEER_Z)
        p = row.get(r["feature"] + PEER_PCT)
        out.append(
            {
                "label": f.label,
                "value": f.render(r["value"]),
                "median": f.render(r["peer_median"]),
                "z": None if z is None or z != z else float(z),
                "percentile": None if p is None or p != p else round(100 * float(p)),
                "direction": r["direction"] or "—",
            }
        )
    return out


def evidence_rows(evidence: pd.DataFrame, rule_id: str, limit: int = PDF_ROWS) -> list[dict[str, Any]]:
    ev = evidence[evidence["rule_id"] == rule_id].head(limit)
    return [
        {
            "mdtrt_id": e.mdtrt_id,
            "feedetl_sn": e.feedetl_sn if isinstance(e.feedetl_sn, str) else "—",
            "psn_no": str(e.psn_no)[:12],
            "dr_code": e.dr_code,
            "time": pd.Timestamp(e.event_time).strftime("%Y-%m-%d") if pd.notna(e.event_time) else "—",
            "amount": float(e.amount_at_risk),
            "reason": f"{e.reason}（{e.covered_by}）" if isinstance(getattr(e, "covered_by", None), str) else e.reason,
        }
        for e in ev.itertuples()
    ]


def write_facility_report(explainer: Explainer, code: str, out_dir: Path, claims: bool = True) -> dict[str, Path]:
    """Write facility_<code>.html/.pdf/.xlsx and the waterfall PNG into out_dir; return their paths.

    `claims=False` leaves the claim rows (疑点清单) out."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    x = explainer.explain(code)
    ev = explainer.evidence(code)
    stem = f"facility_{code}"
    png = waterfall(
        x["contributions"], x["bias"], out_dir / f"{stem}_waterfall.png", title=f"{x['target']['name']} 风险分构成"
    )
    rules = [
        {
            **s,
            "evidence_rows": evidence_rows(ev, s["rule_id"]) if claims else [],
            "more": max(0, s["n_hits"] - PDF_ROWS),
        }
        for s in x["evidence_summary"]
    ]
    context = {
        "x": x,
        "waterfall": png.name,
        "peers": peer_table(explainer, code, x["reasons"]),
        "rules": rules,
        "n_evidence": len(ev),
        "pdf_rows": PDF_ROWS,
        "claims": claims,
    }
    html = render.write_html("facility.html", context, out_dir / f"{stem}.html")
    pdf = render.write_pdf(html, out_dir / f"{stem}.pdf")
    reasons = pd.DataFrame(
        [
            {"序号": i + 1, "理由": r["text"], "贡献（对数几率）": round(r["contribution"], 4)}
            for i, r in enumerate(x["reasons"])
        ]
    )
    sheets = {**evidence_sheets(x, ev, explainer, claims), "入选理由": reasons}
    xlsx = write_xlsx(sheets, out_dir / f"{stem}_evidence.xlsx")
    return {"html": html, "pdf": pdf, "xlsx": xlsx, "png": png}


def summary_sheet(x: dict[str, Any]) -> pd.DataFrame:
    """One row per rule the facility hit: name, basis, severity, hits, amounts, its main physicians."""
    return pd.DataFrame(
        [
            {
                "规则编号": s["rule_id"],
                "规则名称": s["name_zh"],
                "依据": s["article"],
                "风险等级": s["severity_zh"],
                "命中条数": s["n_hits"],
                "涉及金额（元）": round(s["amount_at_risk"], 2),
                "未被既往检查覆盖的金额（元）": round(s.get("amount_uncovered", s["amount_at_risk"]), 2),
                "主要医师": "、".join(p["dr_code"] for p in s["physicians"]),
            }
            for s in x["evidence_summary"]
        ],
        columns=["规则编号", "规则名称", "依据", "风险等级", "命中条数", "涉及金额（元）",
                 "未被既往检查覆盖的金额（元）", "主要医师"],
    )  # fmt: skip


def evidence_sheets(
    x: dict[str, Any], evidence: pd.DataFrame, explainer: Explainer, claims: bool = True
) -> dict[str, pd.DataFrame]:
    """The inspector's workbook: 疑点汇总 (per rule) and, for a role that may read claims, 疑点清单 (every
    evidence line, Chinese headers and rule names). The page's download and the facility report share it."""
    sheets = {"疑点汇总": summary_sheet(x)}
    if claims:
        sheets["疑点清单"] = render.evidence_sheet(evidence, explainer.rules)
    return sheets


def write_evidence_workbook(explainer: Explainer, code: str, out: Path) -> Path:
    """The facility's 疑点汇总 and 疑点清单 as one workbook at `out`."""
    return write_xlsx(evidence_sheets(explainer.explain(code), explainer.evidence(code), explainer), out)


_SHARED: Explainer | None = None  # the explainer a forked worker inherits


def _one(code: str, out_dir: str) -> tuple[str, dict[str, Path]]:
    assert _SHARED is not None
    return code, write_facility_report(_SHARED, code, Path(out_dir))


def write_facility_reports(
    explainer: Explainer, codes: list[str], out_dir: Path, workers: int | None = None
) -> dict[str, dict[str, Path]]:
    """Several facility reports, laid out in parallel (PDF layout is single-threaded and dominates).

    Workers are forked, so each inherits the loaded explainer instead of rebuilding it; on one
    code or one core it simply runs in this process.
    """
    global _SHARED
    import multiprocessing as mp
    import os
    from concurrent.futures import ProcessPoolExecutor

    n = workers or min(len(codes), os.cpu_count() or 1)
    if n <= 1 or len(codes) <= 1:
        return {c: write_facility_report(explainer, c, out_dir) for c in codes}
    _SHARED = explainer
    try:
        with ProcessPoolExecutor(n, mp_context=mp.get_context("fork")) as pool:
            return dict(pool.map(_one, codes, [str(out_dir)] * len(codes)))
    finally:
        _SHARED = None
