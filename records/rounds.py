"""Saved rounds: what a round picked, why, and with what probability — kept so its findings can teach.

A round is saved once (`save_round`) and never changed: a planner who wants another list saves a new
round that names the one it supersedes. Each pick keeps its rank, the model's risk and expected
recovery, whether the model or the exploration draw chose it, the probability that the policy picks
it (1 for a model pick inside capacity; the exploration draw's exact or estimated probability), and the
reasons shown. A finding recorded against a pick (records.findings.FindingPick) takes the facility,
the period checked and the selection from it, so selection is never typed by hand for feijian's own
picks; training reads the probabilities back (`read_picks`) to weight what it learns from each round.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Date, DateTime, Float, ForeignKey, Integer, String, Text, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from feijian.errors import InputError, NotFoundError
from records.db import Base, Database

# A pick's selection, as the input contract spells it: the model's choice is a targeted inspection,
# the exploration draw is the random slice (what the improper-payment estimate reads).
SELECTION_OF_PICK = {"model": "targeted", "exploration": "random"}
SAVE_RETRIES = 5  # attempts at a fresh round id against concurrent saves on the same planning date


class Round(Base):
    __tablename__ = "rounds"

    round_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    level: Mapped[str] = mapped_column(String(20))
    as_of: Mapped[date] = mapped_column(Date, index=True)
    period_begn: Mapped[date] = mapped_column(Date)  # the window the round's features read: what a visit checks
    period_end: Mapped[date] = mapped_column(Date)
    snapshot_id: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(40))
    capacity: Mapped[int] = mapped_column(Integer)
    request: Mapped[str] = mapped_column(Text)  # the plan request (constraints, seed), as JSON
    expected_total: Mapped[float | None] = mapped_column(Float, nullable=True)
    supersedes: Mapped[str | None] = mapped_column(ForeignKey("rounds.round_id"), unique=True, nullable=True)
    note: Mapped[str | None] = mapped_column(String(400), nullable=True)
    saved_by: Mapped[str] = mapped_column(String(100))
    saved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RoundPick(Base):
    __tablename__ = "round_picks"

    round_id: Mapped[str] = mapped_column(ForeignKey("rounds.round_id"), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    fixmedins_code: Mapped[str] = mapped_column(String(40), index=True)
    dr_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    pick: Mapped[str] = mapped_column(String(20))
    probability: Mapped[float] = mapped_column(Float)
    p_serious: Mapped[float | None] = mapped_column(Float, nullable=True)
    expected_recovery: Mapped[float | None] = mapped_column(Float, nullable=True)
    p_risk: Mapped[float | None] = mapped_column(Float, nullable=True)
    reasons: Mapped[str] = mapped_column(Text)  # the reasons shown, a JSON list


ROUND_FIELDS = [c.name for c in Round.__table__.columns]
PICK_FIELDS = [c.name for c in RoundPick.__table__.columns if c.name != "round_id"]


def save_round(db: Database, head: dict[str, Any], picks: list[dict[str, Any]], saved_by: str) -> str:
    """Store a round and its picks under a new id (R<as_of>-<n>); returns the id.

    `head` has Round's fields but the id and the saving; `picks` RoundPick's but the round id.
    `head["supersedes"]`, when given, must name a saved round that nothing supersedes yet."""
    if not picks:
        raise InputError("a round with no picks cannot be saved: widen the filters or raise the capacity",
                         zh="名单为空，无法保存为检查批次：请放宽筛选条件或增加检查名额")
    unknown = set(head) - set(ROUND_FIELDS) | {k for p in picks for k in p} - set(PICK_FIELDS)
    if unknown:
        raise InputError(f"unknown round field(s): {sorted(unknown)}")
    old = head.get("supersedes")
    for attempt in range(SAVE_RETRIES):
        with db.session() as s:
            if old is not None:
                if s.get(Round, old) is None:
                    raise NotFoundError(f"round {old!r} does not exist, so it cannot be superseded",
                                        zh=f"检查批次 {old} 不存在，无法替代")
                later = s.scalar(select(Round.round_id).where(Round.supersedes == old))
                if later is not None:
                    raise InputError(f"round {old} is already superseded by {later}; supersede {later} instead",
                                     zh=f"检查批次 {old} 已被 {later} 替代，请改为替代 {later}")
            as_of: date = head["as_of"]
            n = s.scalar(select(func.count()).select_from(Round).where(Round.as_of == as_of)) or 0
            round_id = f"R{as_of:%Y%m%d}-{n + 1 + attempt}"
            s.add(Round(**head, round_id=round_id, saved_by=saved_by, saved_at=datetime.now(UTC)))
            s.add_all(RoundPick(round_id=round_id, **p) for p in picks)
            try:
                s.commit()
                return round_id
            except IntegrityError:
                s.rollback()  # a concurrent save took the id, or superseded the same round: look again
    raise InputError("the round could not be saved: too many concurrent saves; try again")


def _head(r: Round, superseded_by: str | None) -> dict[str, Any]:
    out = {c: getattr(r, c) for c in ROUND_FIELDS}
    out["request"] = json.loads(r.request)
    out["superseded_by"] = superseded_by
    out["status"] = "superseded" if superseded_by else "in_force"
    return out


def get_round(db: Database, round_id: str) -> dict[str, Any]:
    """A saved round with its picks (reasons as lists) and whether a later round supersedes it."""
    with db.session() as s:
        r = s.get(Round, round_id)
        if r is None:
            raise NotFoundError(f"round {round_id!r} does not exist", zh=f"检查批次 {round_id} 不存在")
        later = s.scalar(select(Round.round_id).where(Round.supersedes == round_id))
        picks = s.scalars(select(RoundPick).where(RoundPick.round_id == round_id).order_by(RoundPick.rank)).all()
        out = _head(r, later)
        out["picks"] = [{**{c: getattr(p, c) for c in PICK_FIELDS}, "reasons": json.loads(p.reasons)} for p in picks]
    return out


def list_rounds(db: Database) -> list[dict[str, Any]]:
    """Every saved round, newest first, with its number of picks and status (no picks)."""
    with db.session() as s:
        rounds = s.scalars(select(Round).order_by(Round.saved_at.desc(), Round.round_id.desc())).all()
        by = {r.supersedes: r.round_id for r in rounds if r.supersedes}
        counts = dict(s.execute(select(RoundPick.round_id, func.count()).group_by(RoundPick.round_id)).all())
        return [{**_head(r, by.get(r.round_id)), "n_picks": int(counts.get(r.round_id, 0))} for r in rounds]


def get_pick(db: Database, round_id: str, rank: int) -> dict[str, Any]:
    """One pick of a saved round with what a finding against it takes: facility, period, selection, batch."""
    with db.session() as s:
        r = s.get(Round, round_id)
        p = s.get(RoundPick, (round_id, rank)) if r is not None else None
        if r is None or p is None:
            what = f"has no pick ranked {rank}" if r is not None else "does not exist"
            raise NotFoundError(f"round {round_id!r} {what}")
        return {"round_id": round_id, "rank": rank, "fixmedins_code": p.fixmedins_code, "pick": p.pick,
                "selection": SELECTION_OF_PICK[p.pick], "period_begn": r.period_begn, "period_end": r.period_end,
                "batch": round_id, "as_of": r.as_of, "probability": p.probability}  # fmt: skip


def read_picks(db: Database) -> pd.DataFrame:
    """Every pick of every saved round: round_id, as_of, level, rank, codes, pick, probability, superseded."""
    columns = ["round_id", "as_of", "level", "rank", "fixmedins_code", "dr_code", "pick", "probability", "superseded"]
    with db.session() as s:
        later = set(s.scalars(select(Round.supersedes).where(Round.supersedes.is_not(None))).all())
        rows = s.execute(
            select(RoundPick.round_id, Round.as_of, Round.level, RoundPick.rank, RoundPick.fixmedins_code,
                   RoundPick.dr_code, RoundPick.pick, RoundPick.probability)
            .join(Round, Round.round_id == RoundPick.round_id)
            .order_by(RoundPick.round_id, RoundPick.rank)
        ).all()  # fmt: skip
    frame = pd.DataFrame([(*r, r[0] in later) for r in rows], columns=columns)
    return frame
