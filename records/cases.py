"""Cases: what happens to each pick of a saved round, from the plan to a closed case.

The lifecycle is declared once here (`STATES`, `TRANSITIONS`): each transition names the right it
needs (serving.permissions gives rights to roles), what it must carry (a team and a date window to
assign, a due date to order rectification), and every transition is kept as an event with who made it,
when, and a note, so a case's timeline is its audit trail. A case is opened per pick of a saved round
(`open_cases`, once: opening again adds nothing), or for an inspection outside any round, a tip-off or a
routine check (`open_outside_case`, which keeps what a round's pick would have said: the selection, the
inspection type, the batch and the period checked); its state only moves along a declared transition.

States, as the source documents describe an inspection (检查组、现场检查、告知、申辩、处理决定、整改、复查):
planned → assigned → on_site → findings_drafted → notified → (appeal →) decided → rectification_due →
followed_up → closed; a decision that orders no rectification closes the case at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from feijian.errors import ForbiddenError, InputError, NotFoundError
from records.db import Base, Database
from records.rounds import Round, RoundPick

STATES: dict[str, str] = {
    "planned": "已计划",
    "assigned": "已分派检查组",
    "on_site": "现场检查中",
    "findings_drafted": "问题已起草",
    "notified": "已告知机构",
    "appeal": "陈述申辩中",
    "decided": "已作出处理决定",
    "rectification_due": "整改中",
    "followed_up": "已复查",
    "closed": "已结案",
}
OPEN_STATES = tuple(s for s in STATES if s != "closed")


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    right: str  # serving.permissions: case_assign (planners), case_work and case_decide (supervisors)
    label: str  # what the button says
    needs: tuple[str, ...] = ()  # fields the transition must carry: team, window_begin, window_end, due_date


TRANSITIONS: tuple[Transition, ...] = (
    Transition("planned", "assigned", "case_assign", "分派检查组", ("team", "window_begin", "window_end")),
    Transition("assigned", "assigned", "case_assign", "调整检查组", ("team", "window_begin", "window_end")),
    Transition("assigned", "on_site", "case_work", "开始现场检查"),
    Transition("on_site", "findings_drafted", "case_work", "起草问题清单"),
    Transition("findings_drafted", "notified", "case_work", "告知机构"),
    Transition("notified", "appeal", "case_work", "登记机构陈述申辩"),  # staff record it, never the facility
    Transition("notified", "decided", "case_decide", "作出处理决定"),
    Transition("appeal", "decided", "case_decide", "作出处理决定"),
    Transition("decided", "rectification_due", "case_decide", "责令整改", ("due_date",)),
    Transition("decided", "closed", "case_decide", "结案（无需整改）"),
    Transition("rectification_due", "followed_up", "case_work", "完成复查"),
    Transition("followed_up", "closed", "case_decide", "结案"),
)
OUTSIDE = "outside"  # list_cases' round_id for the cases opened outside any round
CASE_RIGHTS = ("cases", "case_assign", "case_work", "case_decide")  # "cases": read them


def transition(source: str, target: str) -> Transition:
    for t in TRANSITIONS:
        if (t.source, t.target) == (source, target):
            return t
    allowed = [f"{t.target}（{t.label}）" for t in TRANSITIONS if t.source == source]
    raise InputError(f"a case in state {source!r} cannot move to {target!r}; from there: "
                     f"{', '.join(t.target for t in TRANSITIONS if t.source == source) or 'nothing (closed)'}",
                     zh=f"案件当前为「{STATES.get(source, source)}」，不能转为「{STATES.get(target, target)}」；"
                        f"可转为：{'、'.join(allowed) or '无（已结案）'}")


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("round_id", "rank"),)

    case_id: Mapped[str] = mapped_column(String(60), primary_key=True)
    round_id: Mapped[str | None] = mapped_column(ForeignKey("rounds.round_id"), index=True, nullable=True)
    rank: Mapped[int | None] = mapped_column(Integer, nullable=True)  # both None: an outside inspection
    fixmedins_code: Mapped[str] = mapped_column(String(40), index=True)
    state: Mapped[str] = mapped_column(String(30), index=True)
    team: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of member names
    window_begin: Mapped[date | None] = mapped_column(Date, nullable=True)
    window_end: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)  # rectification due
    opened_by: Mapped[str] = mapped_column(String(100))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # an outside inspection's own terms (selection, insp_type, batch, period_begn, period_end, reason), JSON
    outside: Mapped[str | None] = mapped_column(Text, nullable=True)


OUTSIDE_FIELDS = ("selection", "insp_type", "batch", "period_begn", "period_end", "reason")


class CaseEvent(Base):
    __tablename__ = "case_events"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.case_id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str | None] = mapped_column(String(30), nullable=True)  # None: the case was opened
    target: Mapped[str] = mapped_column(String(30))
    by: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    data: Mapped[str] = mapped_column(Text, default="{}")  # what the transition carried, JSON


def _now() -> datetime:
    return datetime.now(UTC)


def open_cases(db: Database, round_id: str, by: str, role: str) -> list[str]:
    """A case per pick of the saved round `round_id` (planned); the ids, those opened before included."""
    with db.session() as s:
        if s.get(Round, round_id) is None:
            raise NotFoundError(f"round {round_id!r} does not exist", zh=f"检查批次 {round_id} 不存在")
        picks = s.scalars(select(RoundPick).where(RoundPick.round_id == round_id).order_by(RoundPick.rank)).all()
        have = set(s.scalars(select(Case.case_id).where(Case.round_id == round_id)).all())
        now = _now()
        ids = []
        for p in picks:
            case_id = f"{round_id}-{p.rank:03d}"
            ids.append(case_id)
            if case_id in have:
                continue
            s.add(Case(case_id=case_id, round_id=round_id, rank=p.rank, fixmedins_code=p.fixmedins_code,
                       state="planned", team="[]", opened_by=by, opened_at=now, updated_at=now))
            s.add(CaseEvent(case_id=case_id, seq=1, source=None, target="planned", by=by, role=role, at=now,
                            note=None, data="{}"))
        try:
            s.commit()
        except IntegrityError:  # another request opened them meanwhile: theirs stand
            s.rollback()
    return ids


def open_outside_case(db: Database, fixmedins_code: str, terms: dict[str, Any], by: str, role: str,
                      rights: frozenset[str], today: date | None = None) -> str:
    """A case for an inspection outside any saved round (a tip-off, a routine or special check), planned;
    `terms` are OUTSIDE_FIELDS, validated by the caller's schema (serving.schemas.CaseOutside).
    Its id: W<date>-<n>, n counting that day's."""
    if "case_assign" not in rights:
        raise ForbiddenError(f"role {role!r} may not open cases", zh="当前角色无权开立案件")
    kept = json.dumps({k: str(v) if isinstance(v, date) else v for k, v in terms.items() if k in OUTSIDE_FIELDS},
                      ensure_ascii=False)
    prefix = f"W{(today or date.today()):%Y%m%d}-"
    for _ in range(20):  # another request may take the same number: count again and retry
        with db.session() as s:
            n = int(s.scalar(select(func.count()).select_from(Case).where(Case.case_id.startswith(prefix))) or 0) + 1
            case_id, now = f"{prefix}{n:03d}", _now()
            s.add(Case(case_id=case_id, round_id=None, rank=None, fixmedins_code=fixmedins_code, state="planned",
                       team="[]", opened_by=by, opened_at=now, updated_at=now, outside=kept))
            s.add(CaseEvent(case_id=case_id, seq=1, source=None, target="planned", by=by, role=role, at=now,
                            note=terms.get("reason"), data=kept))
            try:
                s.commit()
                return case_id
            except IntegrityError:
                s.rollback()
    raise InputError("could not number the case; try again", zh="案件编号冲突，请重试")


def _carried(t: Transition, team: list[str] | None, window_begin: date | None, window_end: date | None,
             due_date: date | None) -> dict[str, Any]:
    given = {"team": [m.strip() for m in team or [] if m.strip()] or None, "window_begin": window_begin,
             "window_end": window_end, "due_date": due_date}
    missing = [k for k in t.needs if not given[k]]
    zh = {"team": "检查组成员", "window_begin": "检查开始日期", "window_end": "检查结束日期", "due_date": "整改期限"}
    if missing:
        raise InputError(f"{t.label} needs {', '.join(missing)}",
                         zh=f"{t.label}需填写：{'、'.join(zh[m] for m in missing)}")
    if t.target == "assigned" and window_begin and window_end and window_end < window_begin:
        raise InputError("window_end is before window_begin", zh="检查结束日期早于开始日期")
    return {k: given[k] for k in t.needs}


def permitted(source: str, target: str, role: str, rights: frozenset[str]) -> Transition:
    """The declared step from `source` to `target`, when `rights` hold the one it needs (else the error)."""
    t = transition(source, target)
    if t.right not in rights:
        raise ForbiddenError(f"role {role!r} may not {t.right} ({t.label})", zh=f"当前角色无权「{t.label}」")
    return t


def check_move(db: Database, case_id: str, target: str, role: str, rights: frozenset[str]) -> dict[str, Any]:
    """The case, when it may move to `target` by a caller with `rights` (else the error `move` would raise)."""
    case = get_case(db, case_id)
    permitted(case["state"], target, role, rights)
    return case


def move(db: Database, case_id: str, target: str, by: str, role: str, rights: frozenset[str], note: str | None = None,
         team: list[str] | None = None, window_begin: date | None = None, window_end: date | None = None,
         due_date: date | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Move a case along a declared transition, if the caller's `rights` hold the one it needs; returns the case.
    `extra` is kept in the step's data beside what the transition carried (a decision's finding id)."""
    with db.session() as s:
        case = s.get(Case, case_id, with_for_update=True)
        if case is None:
            raise NotFoundError(f"case {case_id!r} does not exist", zh=f"案件 {case_id} 不存在")
        t = permitted(case.state, target, role, rights)
        carried = _carried(t, team, window_begin, window_end, due_date)
        seq = (s.scalar(select(CaseEvent.seq).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq.desc())
                        .limit(1)) or 0) + 1
        now = _now()
        if "team" in carried:
            case.team = json.dumps(carried["team"], ensure_ascii=False)
            case.window_begin, case.window_end = carried["window_begin"], carried["window_end"]
        if "due_date" in carried:
            case.due_date = carried["due_date"]
        case.state, case.updated_at = t.target, now
        s.add(CaseEvent(case_id=case_id, seq=seq, source=t.source, target=t.target, by=by, role=role, at=now,
                        note=note, data=json.dumps({k: str(v) if isinstance(v, date) else v
                                                    for k, v in {**carried, **(extra or {})}.items()},
                                                   ensure_ascii=False)))
        try:
            s.commit()
        except IntegrityError:
            s.rollback()
            raise InputError("the case changed meanwhile; reload it and try again",
                             zh="案件已被他人更新，请刷新后重试") from None
    return get_case(db, case_id)


def overdue(case: dict[str, Any], today: date) -> str | None:
    """Why a case is overdue on `today`, or None: its rectification is past due, or its visit window
    ended before the visit began."""
    if case["state"] == "rectification_due" and case["due_date"] and case["due_date"] < today:
        return "rectification"
    if case["state"] == "assigned" and case["window_end"] and case["window_end"] < today:
        return "visit"
    return None


def _row(c: Case, today: date) -> dict[str, Any]:
    out = {k: getattr(c, k) for k in ("case_id", "round_id", "rank", "fixmedins_code", "state", "window_begin",
                                      "window_end", "due_date", "opened_by", "opened_at", "updated_at")}
    out["team"] = json.loads(c.team or "[]")
    out["outside"] = json.loads(c.outside) if c.outside else None
    out["state_zh"] = STATES[c.state]
    out["overdue"] = overdue(out, today)
    out["next"] = [{"target": t.target, "label": t.label, "right": t.right, "needs": list(t.needs)}
                   for t in TRANSITIONS if t.source == c.state]
    return out


def get_case(db: Database, case_id: str, today: date | None = None) -> dict[str, Any]:
    """A case with its timeline (every event: from, to, who, role, when, note, what it carried)."""
    with db.session() as s:
        c = s.get(Case, case_id)
        if c is None:
            raise NotFoundError(f"case {case_id!r} does not exist", zh=f"案件 {case_id} 不存在")
        events = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)).all()
        out = _row(c, today or date.today())
        out["timeline"] = [{"seq": e.seq, "source": e.source, "target": e.target, "target_zh": STATES[e.target],
                            "by": e.by, "role": e.role, "at": e.at, "note": e.note, "data": json.loads(e.data)}
                           for e in events]
    return out


def list_cases(db: Database, state: str | None = None, member: str | None = None, overdue_only: bool = False,
               round_id: str | None = None, today: date | None = None) -> list[dict[str, Any]]:
    """Cases (no timeline), by round and rank, then the outside ones; filtered by state, a team member,
    overdue on `today`, a round (OUTSIDE: the cases opened outside any round)."""
    if state is not None and state not in STATES:
        raise InputError(f"unknown case state {state!r}; states: {', '.join(STATES)}",
                         zh=f"案件状态 {state} 不存在")
    day = today or date.today()
    with db.session() as s:
        q = select(Case).order_by(Case.round_id.is_(None), Case.round_id, Case.rank, Case.case_id)
        if state is not None:
            q = q.where(Case.state == state)
        if round_id == OUTSIDE:
            q = q.where(Case.round_id.is_(None))
        elif round_id is not None:
            q = q.where(Case.round_id == round_id)
        rows = [_row(c, day) for c in s.scalars(q).all()]
    if member:
        rows = [r for r in rows if member in r["team"]]
    if overdue_only:
        rows = [r for r in rows if r["overdue"]]
    return rows
