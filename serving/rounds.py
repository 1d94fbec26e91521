"""A planned round saved as a record (records.rounds): the one conversion from a plan to a round,
shared by `feijian plan --save`, the service's POST /api/rounds and the page's "保存为检查批次".

The period a pick's inspection checks is the window the round's features read (window_start to the
day before as_of), so a finding recorded on the pick says what was checked without anyone typing it.
"""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from typing import Any

from pydantic import Field

from records import Database, save_round
from serving.plan import Plan
from serving.schemas import PlanRequest


class RoundRequest(PlanRequest):
    """Plan a round as /api/plan does and save it as a record (it can then only be superseded)."""

    note: str | None = Field(None, max_length=400, description="说明（如：替代原批次的原因）")
    supersedes: str | None = Field(None, min_length=1, max_length=40, description="被本批次替代的批次编号")

    def plan_request(self) -> PlanRequest:
        return PlanRequest(**self.model_dump(exclude={"note", "supersedes"}))


def _number(value: Any) -> float | None:
    if value is None:
        return None
    v = float(value)
    return None if math.isnan(v) else v


def round_record(plan: Plan, req: PlanRequest, snapshot_meta: dict[str, Any], note: str | None = None,
                 supersedes: str | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the round's head, its picks) in records.rounds' fields, from a computed plan."""
    meta = plan.meta
    as_of = date.fromisoformat(meta["as_of"])
    head = {
        "level": meta["level"],
        "as_of": as_of,
        "period_begn": date.fromisoformat(snapshot_meta["window_start"]),
        "period_end": as_of - timedelta(days=1),
        "snapshot_id": str(meta.get("snapshot_id") or snapshot_meta["snapshot_id"]),
        "model_version": str(meta.get("model_version")),
        "capacity": int(meta["capacity"]),
        "request": req.model_dump_json(),
        "expected_total": _number(meta.get("expected_total")),
        "supersedes": supersedes,
        "note": note,
    }
    picks = []
    for r in plan.records():
        picks.append({
            "rank": int(r["rank"]),
            "fixmedins_code": str(r["fixmedins_code"]),
            "dr_code": r.get("dr_code"),
            "pick": r["pick"],
            "probability": float(r["pick_probability"]),
            "p_serious": _number(r.get("p_serious")),
            "expected_recovery": _number(r.get("expected_recovery")),
            "p_risk": _number(r.get("p_risk")),
            "reasons": _json_list(r.get("top_reasons")),
        })  # fmt: skip
    return head, picks


def _json_list(reasons: Any) -> str:
    return json.dumps(list(reasons) if reasons is not None else [], ensure_ascii=False)


def save_plan(db: Database, plan: Plan, req: PlanRequest, snapshot_meta: dict[str, Any], saved_by: str,
              note: str | None = None, supersedes: str | None = None) -> str:
    """Save a computed plan as a round; returns its id."""
    head, picks = round_record(plan, req, snapshot_meta, note, supersedes)
    return save_round(db, head, picks, saved_by)
