"""A case's steps as the service takes them: a decision is the case's finding (what training learns from),
recorded through the same validation and write as POST /api/findings before the case moves on.

The service's /api/cases routes and the campaign's simulated inspection teams both step cases here."""

from __future__ import annotations

from datetime import date
from typing import Any

from feijian.errors import InputError
from records import check_move, move
from records.db import Database
from serving.findings import FindingIn, record
from serving.permissions import ROLES


def case_finding(db: Database, case: dict[str, Any], decision: Any) -> FindingIn:
    """The finding a decided case makes: on its pick (facility, batch, period, selection from the round)
    or, for an outside inspection, on the terms it was opened with; dated the day the team went on site
    unless the decision says otherwise, the amount involved the worklist's confirmed amount unless the
    decision says otherwise; its id is the case's."""
    from records.worklist import summary

    if decision is None:
        raise InputError("deciding a case needs its decision (violation types, amounts, action)",
                         zh="作出处理决定需填写处理结果（违规类型、金额、协议处理等）")
    went = [e["at"] for e in case["timeline"] if e["target"] == "on_site"]
    given = decision.model_dump()
    given["insp_date"] = given["insp_date"] or (went[-1].date() if went else date.today())
    if given["amount_involved"] is None:
        confirmed = summary(db, case["case_id"])["amount_confirmed"]
        given["amount_involved"] = max(confirmed, given["amount_recovered"])
    terms = dict(case["outside"] or {})
    given["insp_type"] = given["insp_type"] or terms.get("insp_type") or "flight"
    if case["round_id"] is None:
        given.update(fixmedins_code=case["fixmedins_code"], selection=terms.get("selection"),
                     batch=terms.get("batch"), period_begn=terms.get("period_begn"), period_end=terms.get("period_end"))
    try:
        return FindingIn(insp_id=case["case_id"], round_id=case["round_id"], rank=case["rank"], **given)
    except ValueError as exc:  # pydantic's, in the finding's own words
        raise InputError(f"decision: {exc}", zh=f"处理结果有误：{exc}") from None


def take_step(db: Database, case_id: str, target: str, by: str, role: str, *, decision: Any = None,
              note: str | None = None, team: list[str] | None = None, window_begin: date | None = None,
              window_end: date | None = None, due_date: date | None = None,
              known: set[str] | None = None) -> tuple[dict[str, Any], FindingIn | None]:
    """Move a case one declared step by a caller of `role`; deciding records its finding first (with
    `known` facility codes checked). Returns the case and the finding recorded, if any."""
    rights = ROLES.get(role, frozenset())
    finding = None
    extra = None
    if target == "decided":
        case = check_move(db, case_id, target, role, rights)
        finding = case_finding(db, case, decision)
        record(db, finding, by, known)
        extra = {"insp_id": finding.insp_id, "amount_involved": finding.amount_involved,
                 "amount_recovered": finding.amount_recovered}
    elif decision is not None:
        raise InputError("decision: only with target 'decided'", zh="处理结果只在作出处理决定时填写")
    moved = move(db, case_id, target, by, role, rights, note, team, window_begin, window_end, due_date, extra)
    return moved, finding
