"""Recording findings after a visit: validation (`FindingIn`), the write (`record`) and each worker's copy.

The tables are records.findings' (the input contract's `inspections` and `insp_dr_points`), so the
next `feijian train` reads what is recorded here (records.findings.read_findings; an insp_id recorded
here wins over an ingested one).
The burden view reads both: how often inspections found nothing, and how often the same facility
was inspected again within a year — by region, level and ownership — so planning does not keep
visiting the same honest places.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from features.schema import AGREEMENT_ACTION, INSP_TYPE, SELECTION
from feijian.errors import InputError
from records.db import Database
from records.findings import BATCH_MAX, CONTRACT_COLUMNS, Finding, FindingPick, FindingPoints
from records.rounds import get_pick
from serving.messages import FIELDS_ZH

RACE_RETRIES = 3  # attempts of one record() against concurrent inserts of the same insp_id
PICK_GIVES = ("fixmedins_code", "batch", "period_begn", "period_end", "selection")  # what a round's pick fills in


class PhysicianPoints(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dr_code: str = Field(min_length=1, max_length=40)
    points: int = Field(ge=1, le=12, description="驾照式记分 1–12")


class FindingIn(BaseModel):
    """One inspection's outcome, as the inspection team records it after the visit."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "insp_id": "INSP2025Q1-0001",
                "fixmedins_code": "H99010100001",
                "batch": "2025Q1",
                "insp_date": "2025-01-20",
                "period_begn": "2024-01-01",
                "period_end": "2024-12-31",
                "selection": "targeted",
                "insp_type": "flight",
                "violation_types": "over_testing;minor",
                "amount_involved": 52000.0,
                "amount_recovered": 48000.0,
                "fine_amount": 0.0,
                "agreement_action": "warning",
                "referral": False,
                "points": [{"dr_code": "D99010100001003", "points": 4}],
            }
        },
    )

    insp_id: str = Field(min_length=1, max_length=40)
    # A finding on a saved round's pick names the pick; the facility, batch, period checked and
    # selection then come from it (given as well, they must agree). An outside inspection (a tip-off,
    # a routine visit) names no round and gives them itself.
    round_id: str | None = Field(None, min_length=1, max_length=40, description="检查批次编号（按批次检查时）")
    rank: int | None = Field(None, ge=1, description="该机构在检查批次中的序号")
    fixmedins_code: str | None = Field(None, min_length=1, max_length=40)
    batch: str | None = Field(None, min_length=1, max_length=BATCH_MAX)
    insp_date: date
    period_begn: date | None = None
    period_end: date | None = None
    selection: str | None = None
    insp_type: str = "targeted"
    violation_types: str | None = Field(None, max_length=400)
    # what the violations involved; recovered money comes out of it (the contract's at_most), so when
    # not given it is at least the amount recovered
    amount_involved: float | None = Field(None, ge=0, le=1e12)
    amount_recovered: float = Field(0.0, ge=0, le=1e12)
    fine_amount: float = Field(0.0, ge=0, le=1e12)
    agreement_action: str = "none"
    referral: bool = False
    points: list[PhysicianPoints] = Field(default_factory=list, max_length=500)

    @field_validator("points")
    @classmethod
    def _one_entry_per_physician(cls, v: list[PhysicianPoints]) -> list[PhysicianPoints]:
        counts = Counter(p.dr_code for p in v)
        repeated = [f"{code} ({n} 次)" for code, n in counts.items() if n > 1]
        if repeated:
            raise ValueError(
                f"记分名单 points 里有重复的医师：{'、'.join(repeated)}；每位医师每次检查只记一条 "
                f"(dr_code repeated in points: {', '.join(c for c, n in counts.items() if n > 1)})"
            )
        return v

    @field_validator("selection")
    @classmethod
    def _selection(cls, v: str | None) -> str | None:
        return v if v is None else _code(v, SELECTION, "selection")

    @model_validator(mode="after")
    def _involved_covers_recovered(self) -> FindingIn:
        if self.amount_involved is None:
            self.amount_involved = self.amount_recovered
        elif self.amount_recovered > self.amount_involved + 0.01:
            raise ValueError(
                f"追回金额 {self.amount_recovered:,.2f} 超过涉及金额 {self.amount_involved:,.2f} "
                "(amount_recovered may not exceed amount_involved)"
            )
        return self

    @model_validator(mode="after")
    def _own_or_picked(self) -> FindingIn:
        if (self.round_id is None) != (self.rank is None):
            raise ValueError("round_id 与 rank 须同时给出（按检查批次记录时）或都不给 (give both, or neither)")
        own = [f for f in PICK_GIVES if getattr(self, f) is None]
        if self.round_id is None and own:
            raise ValueError(
                f"不按检查批次记录时须填写：{'、'.join(FIELDS_ZH.get(f, f) for f in own)} "
                f"(an inspection outside a saved round needs {', '.join(own)})"
            )
        return self

    @field_validator("insp_type")
    @classmethod
    def _type(cls, v: str) -> str:
        return _code(v, INSP_TYPE, "insp_type")

    @field_validator("agreement_action")
    @classmethod
    def _action(cls, v: str) -> str:
        return _code(v, AGREEMENT_ACTION, "agreement_action")


def _code(value: str, allowed: dict[str, str], field: str) -> str:
    if value not in allowed:
        raise ValueError(f"应为以下之一：{'、'.join(allowed.values())} ({field} must be one of {', '.join(allowed)}; "
                         f"got {value!r})")
    return value


def record(db: Database, finding: FindingIn, recorded_by: str, known_facilities: set[str] | None = None) -> bool:
    """Insert or update (same insp_id) one finding; returns True when it was new.

    A repeat of an insp_id is a correction (the later one wins) and answers False, whether it comes
    after the first or at the same moment: of concurrent posts of a new insp_id exactly one inserts;
    the others lose the race on the primary key, roll back, and apply themselves as corrections."""
    link = None
    if finding.round_id is not None:
        finding, link = _from_pick(db, finding)
    assert finding.period_end is not None and finding.period_begn is not None
    if finding.period_end < finding.period_begn:
        raise InputError(f"period_end {finding.period_end} is before period_begn {finding.period_begn}",
                         zh=f"检查期间结束（{finding.period_end}）早于检查期间开始（{finding.period_begn}）")
    if known_facilities is not None and finding.fixmedins_code not in known_facilities:
        raise InputError(f"fixmedins_code {finding.fixmedins_code!r} is not a facility in the current snapshot",
                         zh=f"定点医药机构编号：{finding.fixmedins_code} 不是本期数据中的机构")
    for attempt in range(RACE_RETRIES):
        try:
            return _write(db, finding, recorded_by, link)
        except IntegrityError:
            # Another request inserted this insp_id between our read and our insert: it exists now,
            # so the next attempt takes the correction path. Anything else fails again and is raised.
            if attempt == RACE_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def _from_pick(db: Database, finding: FindingIn) -> tuple[FindingIn, FindingPick]:
    """The finding with what its pick gives filled in (a given value must agree), and the link to the pick."""
    assert finding.round_id is not None and finding.rank is not None
    pick = get_pick(db, finding.round_id, finding.rank)
    given = {f: getattr(finding, f) for f in PICK_GIVES}
    differ = [f for f, v in given.items() if v is not None and v != pick[f]]
    clash = [f"{f}={given[f]!r} (the pick says {pick[f]!r})" for f in differ]
    if clash:
        raise InputError(f"round {finding.round_id} pick {finding.rank}: {'; '.join(clash)}",
                         zh=f"检查批次 {finding.round_id} 第 {finding.rank} 家：填写的"
                            f"{'、'.join(FIELDS_ZH.get(f, f) for f in differ)}"
                            "与批次记录不一致")
    filled = finding.model_copy(update={f: pick[f] for f in PICK_GIVES})
    return filled, FindingPick(insp_id=finding.insp_id, round_id=finding.round_id, rank=finding.rank)


def _write(db: Database, finding: FindingIn, recorded_by: str, link: FindingPick | None = None) -> bool:
    data = finding.model_dump(exclude={"points", "round_id", "rank"})
    with db.session() as s:
        row = s.get(Finding, finding.insp_id)
        new = row is None
        if new:
            row = Finding(**data, recorded_by=recorded_by, recorded_at=datetime.now(UTC))
            s.add(row)
        else:
            for k, v in data.items():
                setattr(row, k, v)
            row.recorded_by, row.recorded_at = recorded_by, datetime.now(UTC)
            s.flush()  # the row's UPDATE first: concurrent corrections of one insp_id queue on its lock
            s.execute(delete(FindingPoints).where(FindingPoints.insp_id == finding.insp_id))
            s.execute(delete(FindingPick).where(FindingPick.insp_id == finding.insp_id))
        s.flush()
        if link is not None:
            s.add(link)
        s.add_all(FindingPoints(insp_id=finding.insp_id, dr_code=p.dr_code, points=p.points) for p in finding.points)
        s.commit()
    return new


def version(db: Database) -> tuple[int, str]:
    """(number of findings, latest recording time): changes whenever any worker records or corrects one."""
    with db.session() as s:
        n, latest = s.execute(select(func.count(Finding.insp_id), func.max(Finding.recorded_at))).one()
    return int(n), str(latest)


class RecordedFindings:
    """A worker's copy of the recorded findings, brought up to date by reading only the rows recorded
    or corrected lately (and all of them when rows went missing, e.g. deleted by hand).

    Two counters say what changed: `changes` for any finding, `before_as_of_changes` for a finding
    dated before the snapshot's as_of (before or after the change): only those can exclude a facility
    from a plan, so plans are recomputed for them alone."""

    OVERLAP = timedelta(seconds=5)  # re-read this much before the newest time seen: commits land out of order

    def __init__(self) -> None:
        self.rows: dict[str, tuple[Any, ...]] = {}
        self.version: tuple[int, str] | None = None
        self.changes = 0
        self.before_as_of_changes = 0
        self._seen: datetime | None = None
        self._frame: tuple[int, pd.DataFrame] | None = None

    def refresh(self, db: Database, version: tuple[int, str], as_of: date) -> None:
        """Catch up with the database; `version` was read just before (serving.findings.version)."""
        changed, before, count_after = self._read(db, as_of, full=self._seen is None)
        # Fewer rows than were committed before the read: one committed late with an old time was
        # missed. More rows than exist after it: some were deleted. Either way, read everything once.
        if len(self.rows) < version[0] or len(self.rows) > count_after:
            changed, before, _ = self._read(db, as_of, full=True)
        self.version = version
        self.changes += changed
        self.before_as_of_changes += before

    def _read(self, db: Database, as_of: date, full: bool) -> tuple[bool, bool, int]:
        table = Finding.__table__
        query = select(*(table.c[c] for c in CONTRACT_COLUMNS), table.c.recorded_at)
        if not full and self._seen is not None:
            query = query.where(table.c.recorded_at >= self._seen - self.OVERLAP)
        with db.session() as s:
            fetched = s.execute(query).all()
            count_after = int(s.execute(select(func.count()).select_from(table)).scalar_one())
        old = self.rows
        rows = {} if full else old
        day = CONTRACT_COLUMNS.index("insp_date")
        changed = before = False
        for r in fetched:
            row, at = tuple(r[:-1]), r[-1]
            was = old.get(row[0])
            if was != row:
                changed = True
                before = before or row[day] < as_of or (was is not None and was[day] < as_of)
            rows[row[0]] = row
            if at is not None and (self._seen is None or at > self._seen):
                self._seen = at
        if full:
            gone = old.keys() - rows.keys()
            changed = changed or bool(gone)
            before = before or any(old[i][day] < as_of for i in gone)
            self.rows = rows
        return changed, before, count_after

    def frame(self) -> pd.DataFrame:
        """The recorded findings in the input contract's `inspections` columns (kept until they change)."""
        if self._frame is None or self._frame[0] != self.changes:
            self._frame = (self.changes, pd.DataFrame(list(self.rows.values()), columns=CONTRACT_COLUMNS))
        return self._frame[1]


def burden(inspections: pd.DataFrame, facilities: pd.DataFrame) -> dict[str, list[dict[str, object]]]:
    """No-finding rate and repeat-inspection rate (again within 365 days) by region, level and ownership."""
    if inspections.empty:
        return {"admdvs": [], "hosp_lv": [], "ownership": []}
    df = inspections.copy()
    df["insp_date"] = pd.to_datetime(df["insp_date"])
    df = df.sort_values(["fixmedins_code", "insp_date"])
    prev = df.groupby("fixmedins_code")["insp_date"].shift()
    df["repeat"] = (df["insp_date"] - prev).dt.days.le(365).fillna(False)
    df["no_finding"] = (df["amount_recovered"].fillna(0) <= 0) & df["violation_types"].isna()
    df = df.merge(facilities[["fixmedins_code", "admdvs", "hosp_lv", "ownership"]], on="fixmedins_code", how="left")
    out: dict[str, list[dict[str, object]]] = {}
    for key in ("admdvs", "hosp_lv", "ownership"):
        g = df.groupby(key, dropna=False).agg(
            inspections=("insp_id", "size"), no_finding_rate=("no_finding", "mean"), repeat_rate=("repeat", "mean")
        )
        out[key] = [
            {
                key: str(idx),
                "inspections": int(r.inspections),
                "no_finding_rate": round(float(r.no_finding_rate), 4),
                "repeat_rate": round(float(r.repeat_rate), 4),
            }
            for idx, r in g.iterrows()
        ]
    return out
