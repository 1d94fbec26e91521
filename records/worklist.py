"""A case's 疑点清单 as a worklist, and what the inspectors' verdicts say about each rule.

When an inspection team opens a case's worklist, the facility's evidence lines (one per rule hit: the
rule, the claim, the amount at risk) are kept with the case (`keep_lines`, once: the list the team
works through does not change under it when the next snapshot is built). Each line is then marked
confirmed (属实), not a violation (不属实) or left unchecked, with the amount confirmed and a note;
every mark says who and when. The confirmed lines are the claims behind the case's finding.

`rule_quality` reads every checked line back: per rule (and facility type), how many hits were checked,
the share confirmed, the amount confirmed. A rule whose checked hits are mostly rejected is flagged
for review: that is how the rule base (两库) is maintained from evidence rather than by opinion.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import DateTime, Float, ForeignKey, String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from feijian.errors import InputError, NotFoundError
from records.cases import Case
from records.db import Base, Database

VERDICTS = {"unchecked": "未核查", "confirmed": "属实", "rejected": "不属实"}
LINE_FIELDS = ("rule_id", "hit_level", "mdtrt_id", "feedetl_sn", "dr_code", "event_time", "med_list_codg",
               "amount_at_risk", "reason")  # fmt: skip
# A rule is flagged for review when at least this many of its hits were checked and at most this share
# of them confirmed.
REVIEW_MIN_CHECKED = 10
REVIEW_MAX_CONFIRMED = 0.3


class CaseLine(Base):
    __tablename__ = "case_lines"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.case_id"), primary_key=True)
    line_key: Mapped[str] = mapped_column(String(200), primary_key=True)  # rule | claim the hit is on
    rule_id: Mapped[str] = mapped_column(String(40), index=True)
    hit_level: Mapped[str] = mapped_column(String(20))
    mdtrt_id: Mapped[str | None] = mapped_column(String(60), nullable=True)
    feedetl_sn: Mapped[str | None] = mapped_column(String(60), nullable=True)
    dr_code: Mapped[str | None] = mapped_column(String(60), nullable=True)
    event_time: Mapped[str | None] = mapped_column(String(30), nullable=True)
    med_list_codg: Mapped[str | None] = mapped_column(String(60), nullable=True)
    amount_at_risk: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    verdict: Mapped[str] = mapped_column(String(20), default="unchecked")
    amount_confirmed: Mapped[float | None] = mapped_column(Float, nullable=True)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    marked_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    marked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


def line_key(row: dict[str, Any]) -> str:
    """A hit's identity within a case: its rule and the claim (fee line, else visit) it is on."""
    claim = row.get("feedetl_sn") or row.get("mdtrt_id") or ""
    return f"{row['rule_id']}|{row.get('hit_level') or ''}|{claim}"


def _text(v: Any) -> str | None:
    return None if v is None or (isinstance(v, float) and v != v) or v is pd.NaT else str(v)


def keep_lines(db: Database, case_id: str, evidence: pd.DataFrame) -> int:
    """Keep the facility's evidence lines with the case, once; the number of lines it holds."""
    with db.session() as s:
        if s.get(Case, case_id) is None:
            raise NotFoundError(f"case {case_id!r} does not exist", zh=f"案件 {case_id} 不存在")
        have = s.scalar(select(CaseLine.line_key).where(CaseLine.case_id == case_id).limit(1))
        if have is None:
            seen = set()
            for row in evidence.to_dict("records"):
                key = line_key(row)
                if key in seen:
                    continue
                seen.add(key)
                s.add(CaseLine(case_id=case_id, line_key=key, **{f: _text(row.get(f)) for f in LINE_FIELDS
                                                                   if f not in ("amount_at_risk",)},
                               amount_at_risk=float(row.get("amount_at_risk") or 0.0), verdict="unchecked"))
            try:
                s.commit()
            except IntegrityError:  # kept by a concurrent request: theirs stand
                s.rollback()
        return len(s.scalars(select(CaseLine.line_key).where(CaseLine.case_id == case_id)).all())


def lines(db: Database, case_id: str) -> list[dict[str, Any]]:
    """The case's worklist, largest amount first, with each line's verdict."""
    with db.session() as s:
        rows = s.scalars(select(CaseLine).where(CaseLine.case_id == case_id)
                         .order_by(CaseLine.amount_at_risk.desc(), CaseLine.line_key)).all()
        return [{c.name: getattr(r, c.name) for c in CaseLine.__table__.columns} | {"verdict_zh": VERDICTS[r.verdict]}
                for r in rows]


def mark(db: Database, case_id: str, marks: list[dict[str, Any]], by: str) -> dict[str, Any]:
    """Set verdicts on lines of the case's worklist: each mark has line_key, verdict, and optionally
    amount_confirmed (default: the amount at risk, for a confirmed line) and a note. All or nothing."""
    with db.session() as s:
        case = s.get(Case, case_id)
        if case is None:
            raise NotFoundError(f"case {case_id!r} does not exist", zh=f"案件 {case_id} 不存在")
        if case.state not in ("on_site", "findings_drafted"):
            raise InputError(f"lines are marked on site or while findings are drafted; the case is {case.state}",
                             zh="疑点核查只能在现场检查或起草问题清单时登记")
        now = datetime.now(UTC)
        for m in marks:
            row = s.get(CaseLine, (case_id, m.get("line_key")))
            if row is None:
                raise NotFoundError(f"case {case_id} has no line {m.get('line_key')!r}",
                                    zh=f"案件疑点清单中没有 {m.get('line_key')}")
            verdict = m.get("verdict")
            if verdict not in VERDICTS:
                raise InputError(f"verdict must be one of {', '.join(VERDICTS)}; got {verdict!r}",
                                 zh=f"核查结论应为：{'、'.join(VERDICTS.values())}")
            amount = m.get("amount_confirmed")
            if verdict == "confirmed":
                amount = row.amount_at_risk if amount is None else float(amount)
                if not 0 <= amount <= row.amount_at_risk + 0.01:
                    raise InputError(f"amount_confirmed {amount} is outside 0–{row.amount_at_risk}",
                                     zh=f"认定金额应在 0 至 {row.amount_at_risk:,.2f} 元之间")
            else:
                amount = None
            row.verdict, row.amount_confirmed, row.note = verdict, amount, m.get("note")
            row.marked_by, row.marked_at = by, now
        s.commit()
    return summary(db, case_id)


def summary(db: Database, case_id: str) -> dict[str, Any]:
    """The worklist's tally: lines by verdict, the amount at risk checked, the amount confirmed."""
    rows = lines(db, case_id)
    confirmed = [r for r in rows if r["verdict"] == "confirmed"]
    return {"case_id": case_id, "n_lines": len(rows),
            "n": {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS},
            "amount_at_risk": round(sum(r["amount_at_risk"] for r in rows), 2),
            "amount_confirmed": round(sum(r["amount_confirmed"] or 0.0 for r in confirmed), 2),
            "confirmed_claims": [r["feedetl_sn"] or r["mdtrt_id"] for r in confirmed]}  # fmt: skip


def checked_lines(db: Database) -> pd.DataFrame:
    """Every line an inspector checked: case, facility, rule, verdict, amounts, when marked, and the
    quarter of the visit (`quarter`: the case's visit window, else the marking day) for quality over time."""
    with db.session() as s:
        rows = s.execute(
            select(CaseLine.case_id, Case.fixmedins_code, CaseLine.rule_id, CaseLine.verdict,
                   CaseLine.amount_at_risk, CaseLine.amount_confirmed, CaseLine.marked_at, Case.window_begin)
            .join(Case, Case.case_id == CaseLine.case_id).where(CaseLine.verdict != "unchecked")
        ).all()  # fmt: skip
    out = pd.DataFrame(rows, columns=["case_id", "fixmedins_code", "rule_id", "verdict", "amount_at_risk",
                                      "amount_confirmed", "marked_at", "window_begin"])
    day = pd.to_datetime(out["window_begin"]).fillna(pd.to_datetime(out["marked_at"], utc=True).dt.tz_localize(None))
    return out.drop(columns="window_begin").assign(quarter=day.dt.to_period("Q").astype(str))


def rule_quality(checked: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Per rule (and `by`, e.g. the facility type): hits checked, confirmed, the share confirmed, the
    amount at risk checked and confirmed, and whether the rule is flagged for review."""
    keys = ["rule_id", *(by or [])]
    cols = [*keys, "checked", "confirmed", "confirmed_share", "amount_checked", "amount_confirmed", "review"]
    if checked.empty:
        return pd.DataFrame(columns=cols)
    c = checked.assign(is_confirmed=checked["verdict"] == "confirmed",
                       amount_confirmed=checked["amount_confirmed"].fillna(0.0))
    g = c.groupby(keys, dropna=False).agg(checked=("verdict", "size"), confirmed=("is_confirmed", "sum"),
                                          amount_checked=("amount_at_risk", "sum"),
                                          amount_confirmed=("amount_confirmed", "sum")).reset_index()
    g["confirmed_share"] = g["confirmed"] / g["checked"]
    g["review"] = (g["checked"] >= REVIEW_MIN_CHECKED) & (g["confirmed_share"] <= REVIEW_MAX_CONFIRMED)
    return g.sort_values(["confirmed_share", *keys], kind="mergesort")[cols].reset_index(drop=True)
