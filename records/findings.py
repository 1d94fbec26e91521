"""Findings recorded after a visit: the input contract's `inspections` and `insp_dr_points` as tables.

The columns are the contract's (features/schema.py), so a recorded finding and an ingested one are
the same thing. The service writes them (serving.findings validates and records); training reads
them back with `read_findings` and unions them with the workspace's ingested findings, a recorded
insp_id winning. A finding made on a saved round's pick is linked to it in `finding_picks`: the pick
says which round it answers, so training takes that round's planning date and, for inverse-propensity
weighting, the probability with which the pick was drawn.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from sqlalchemy import Boolean, Date, DateTime, Float, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from records.db import Base, Database

BATCH_MAX = 20  # characters of a batch name (检查批次), as the findings table keeps it

class Finding(Base):
    __tablename__ = "findings"

    insp_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    fixmedins_code: Mapped[str] = mapped_column(String(40), index=True)
    batch: Mapped[str] = mapped_column(String(BATCH_MAX))
    insp_date: Mapped[date] = mapped_column(Date)
    period_begn: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    selection: Mapped[str] = mapped_column(String(20))
    insp_type: Mapped[str] = mapped_column(String(20))
    violation_types: Mapped[str | None] = mapped_column(String(400), nullable=True)
    amount_involved: Mapped[float] = mapped_column(Float)
    amount_recovered: Mapped[float] = mapped_column(Float)
    fine_amount: Mapped[float] = mapped_column(Float)
    agreement_action: Mapped[str] = mapped_column(String(20))
    referral: Mapped[bool] = mapped_column(Boolean)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FindingPoints(Base):
    __tablename__ = "finding_points"

    insp_id: Mapped[str] = mapped_column(ForeignKey("findings.insp_id", ondelete="CASCADE"), primary_key=True)
    dr_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    points: Mapped[int] = mapped_column(Integer)


class FindingPick(Base):
    """The saved round's pick a finding answers (none for an outside inspection: a tip-off, a routine visit)."""

    __tablename__ = "finding_picks"

    insp_id: Mapped[str] = mapped_column(ForeignKey("findings.insp_id", ondelete="CASCADE"), primary_key=True)
    round_id: Mapped[str] = mapped_column(String(40), index=True)
    rank: Mapped[int] = mapped_column(Integer)


CONTRACT_COLUMNS = [c.name for c in Finding.__table__.columns if c.name not in ("recorded_by", "recorded_at")]
POINT_COLUMNS = ["insp_id", "dr_code", "points"]
PICK_COLUMNS = ["insp_id", "round_id", "rank"]


def read_findings(db: Database) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(inspections, insp_dr_points, finding_picks): the first two in the input contract's columns."""
    with db.session() as s:
        insp = pd.DataFrame(s.execute(select(*(Finding.__table__.c[c] for c in CONTRACT_COLUMNS))).all(),
                            columns=CONTRACT_COLUMNS)  # fmt: skip
        points = pd.DataFrame(s.execute(select(*(FindingPoints.__table__.c[c] for c in POINT_COLUMNS))).all(),
                              columns=POINT_COLUMNS)  # fmt: skip
        picks = pd.DataFrame(s.execute(select(*(FindingPick.__table__.c[c] for c in PICK_COLUMNS))).all(),
                             columns=PICK_COLUMNS)  # fmt: skip
    return insp, points, picks


def union_findings(recorded: pd.DataFrame, ingested: pd.DataFrame) -> pd.DataFrame:
    """Recorded and ingested findings as one table: an insp_id recorded through the service wins over
    the same id ingested (a correction made after the export); dates as plain dates."""
    frames = [f for f in (recorded, ingested) if not f.empty]
    if not frames:
        return pd.DataFrame(columns=CONTRACT_COLUMNS)
    both = pd.concat(frames, ignore_index=True)
    both["insp_date"] = pd.to_datetime(both["insp_date"]).dt.date
    return both.drop_duplicates("insp_id", keep="first").reset_index(drop=True)
