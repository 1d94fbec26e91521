"""A decided case's 处理决定书 and a rectification's 整改通知书, in Chinese, from the case's records: its
team and window, the worklist's confirmed lines by rule (with each rule's legal basis), the statement
or appeal, and the decision recorded as the case's finding."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from features.schema import AGREEMENT_ACTION, SELECTION
from feijian.errors import InputError
from records import Database, Finding, get_case, get_pick, lines
from serving.reports import render

KINDS = {"decision": "行政处理决定书", "rectification": "责令整改通知书"}
# the states from which each notice exists: a decision once decided, a rectification once ordered
READY = {"decision": ("decided", "rectification_due", "followed_up", "closed"),
         "rectification": ("rectification_due", "followed_up", "closed")}


def notice_context(db: Database, case_id: str, kind: str, names: dict[str, str], rules: dict[str, Any]
                   ) -> dict[str, Any]:
    """What the notice says, from the records; an InputError when the case has not reached it."""
    if kind not in KINDS:
        raise InputError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}",
                         zh="文书类型应为处理决定书或整改通知书")
    case = get_case(db, case_id)
    if case["state"] not in READY[kind]:
        raise InputError(f"case {case_id} is {case['state']}: no {kind} notice yet",
                         zh=f"案件当前为「{case['state_zh']}」，尚无{KINDS[kind]}")
    if kind == "rectification" and not case["due_date"]:
        raise InputError(f"case {case_id} has no rectification ordered", zh="本案未责令整改")
    if case["round_id"] is None:  # an outside inspection: its own terms
        terms = case["outside"] or {}
        basis = f"{terms.get('batch') or '批次外检查'}（{SELECTION.get(terms.get('selection'), '批次外检查')}）"
        pick = {"period_begn": terms.get("period_begn"), "period_end": terms.get("period_end")}
    else:
        pick = get_pick(db, case["round_id"], case["rank"])
        basis = f"检查批次 {case['round_id']}"
    with db.session() as s:
        finding = s.get(Finding, case_id)
    confirmed = pd.DataFrame([r for r in lines(db, case_id) if r["verdict"] == "confirmed"])
    by_rule = [] if confirmed.empty else [
        {"rule_id": rid, "name_zh": rules[rid].name_zh if rid in rules else rid,
         "article": rules[rid].article if rid in rules else "", "n": len(g),
         "amount": float(g["amount_confirmed"].fillna(0).sum())}
        for rid, g in confirmed.groupby("rule_id", sort=True)]
    appeal = next((e["note"] or "书面陈述" for e in case["timeline"] if e["target"] == "appeal"), None)
    decided = next((e["at"] for e in case["timeline"] if e["target"] == ("decided" if kind == "decision"
                                                                           else "rectification_due")), None)
    return {"title": KINDS[kind], "kind": kind, "n": {
        **case, "facility_name": names.get(case["fixmedins_code"], case["fixmedins_code"]), "basis": basis,
        "period_begn": pick["period_begn"], "period_end": pick["period_end"], "lines": by_rule,
        "n_confirmed": len(confirmed), "amount_confirmed": float(sum(r["amount"] for r in by_rule)),
        "appeal": appeal, "amount_recovered": finding.amount_recovered if finding else None,
        "fine_amount": finding.fine_amount if finding else None,
        "agreement_action_zh": AGREEMENT_ACTION.get(finding.agreement_action, "—") if finding else "—",
        "referral": bool(finding.referral) if finding else False,
        "date": (decided.date() if decided else date.today()).isoformat()}}


def write_notice(db: Database, case_id: str, kind: str, names: dict[str, str], rules: dict[str, Any],
                 out_dir: Path) -> dict[str, Path]:
    """The notice as HTML and A4 PDF under out_dir."""
    ctx = notice_context(db, case_id, kind, names, rules)
    html = render.write_html("notice.html", ctx, Path(out_dir) / f"{case_id}_{kind}.html")
    return {"html": html, "pdf": render.write_pdf(html, Path(out_dir) / f"{case_id}_{kind}.pdf")}
