"""Typed requests of the service, with limits and examples (they also make the OpenAPI schema).

Strict types: a number must be a JSON number (`"30"` and `true` are not a capacity; an integer
field takes no 30.0), a string a string. Floats accept integers (`"exploration_share": 0`).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.schema import INSP_TYPE, SELECTION
from records.findings import BATCH_MAX

MAX_CAPACITY = 500
MAX_SCORE_ROWS = 5000
PlanLevel = Literal["facility", "physician"]


class PlanRequest(BaseModel):
    """Plan the next round: how many visits, which facilities may be chosen, how much to explore."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"example": {"capacity": 30, "regions": [], "exclude_days": 180, "exploration_share": 0.1}},
    )

    capacity: int = Field(30, ge=1, le=MAX_CAPACITY, description="检查能力：本轮检查家数")
    level: PlanLevel = "facility"
    regions: list[str] = Field(default_factory=list, max_length=100, description="限定统筹区 admdvs")
    types: list[str] = Field(default_factory=list, max_length=20, description="限定机构类型 fixmedins_type")
    levels: list[str] = Field(default_factory=list, max_length=20, description="限定医院等级 hosp_lv")
    ownership: list[Literal["public", "private"]] = Field(default_factory=list, max_length=2)
    exclude_days: int = Field(180, ge=0, le=3650, description="排除近 N 天内检查过的机构")
    clean_cooldown_days: int = Field(365, ge=0, le=3650, description="检查未发现问题的机构冷却期（天）")
    region_caps: dict[str, int] = Field(default_factory=dict, max_length=100, description="每个统筹区最多几家")
    exploration_share: float = Field(0.1, ge=0.0, le=0.5, description="随机探索比例（使未来标签更少偏差）")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    on_terminated: Literal["exclude", "flag"] = Field("exclude", description="已解除医保服务协议的机构：排除或标注")
    on_suspended: Literal["exclude", "flag"] = Field("flag", description="最近一次检查暂停协议的机构：排除或标注")
    joint_rings: bool = Field(False, description="疑似团伙作为联合检查对象：值得时成员机构一并入选，每家计入检查能力"
                              "（否则仅标注入选机构所属团伙）")

    def plan_kwargs(self, rings: list[tuple[str, list[str]]] | None = None) -> dict[str, Any]:
        """The keyword arguments of serving.plan.plan_round for this request (empty filters as None);
        with the snapshot's `rings` (serving.rings.RingBook.units), the joint inspections it allows."""
        joint = {"rings": rings, "joint_rings": self.joint_rings} if rings is not None else {}
        return {
            **joint,
            "regions": self.regions or None,
            "types": self.types or None,
            "levels": self.levels or None,
            "ownership": self.ownership or None,
            "exclude_days": self.exclude_days,
            "clean_cooldown_days": self.clean_cooldown_days,
            "region_caps": self.region_caps or None,
            "exploration_share": self.exploration_share,
            "seed": self.seed,
            "level": self.level,
            "sanctions": {"terminate": self.on_terminated, "suspend": self.on_suspended},
        }


class ScoreRequest(BaseModel):
    """Feature rows (the model's columns, as in a snapshot) → scores, in one batch."""

    model_config = ConfigDict(extra="forbid", strict=True)

    rows: list[dict[str, float | None]] = Field(min_length=1, max_length=MAX_SCORE_ROWS)


class ExplainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"example": {"code": "H99010100001"}})

    code: str = Field(min_length=1, max_length=40, description="fixmedins_code（或医师 dr_code）")


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"example": {"q": "人民医院"}})

    q: str = Field(min_length=1, max_length=40, description="机构名称的一部分或机构编号")
    limit: int = Field(20, ge=1, le=100)


class EvidenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    code: str = Field(min_length=1, max_length=40)
    rule_id: str | None = Field(None, max_length=20)
    limit: int = Field(200, ge=1, le=5000)


class RingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"example": {"limit": 20}})

    limit: int = Field(50, ge=1, le=500, description="最多列出几个疑似团伙")


class RingId(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"example": {"ring_id": "RG-1A2B3C4D"}})

    ring_id: str = Field(pattern=r"^RG-[0-9A-F]{8}$", description="疑似团伙编号")
    limit: int = Field(200, ge=1, le=5000, description="证据就诊记录最多几条")


class RoundId(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"example": {"round_id": "R20250101-1"}})

    round_id: str = Field(min_length=1, max_length=40, description="检查批次编号")


class CaseOpen(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"example": {"round_id": "R20250101-1"}})

    round_id: str = Field(min_length=1, max_length=40, description="检查批次编号：每个入选对象开一个案件")


class CaseOutside(BaseModel):
    """An inspection outside any saved round: a tip-off, a routine or a special check."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "fixmedins_code": "H99010100001", "selection": "tip_off", "insp_type": "targeted",
        "batch": "2026年举报线索核查", "period_begn": "2025-07-01", "period_end": "2026-06-30",
        "reason": "参保人举报：未住院却有住院结算记录"}})

    fixmedins_code: str = Field(min_length=1, max_length=40, description="定点医药机构编号")
    selection: Literal[tuple(SELECTION)] = Field("tip_off", description="线索来源：举报线索、指标筛查、随机抽查")  # type: ignore[valid-type]
    insp_type: Literal[tuple(INSP_TYPE)] = Field("targeted", description="检查类型")  # type: ignore[valid-type]
    batch: str = Field(min_length=1, max_length=BATCH_MAX, description="检查批次（名称）")
    period_begn: date = Field(description="检查所属期开始")
    period_end: date = Field(description="检查所属期结束")
    reason: str = Field(min_length=1, max_length=1000, description="立案事由")

    @model_validator(mode="after")
    def _period(self) -> CaseOutside:
        if self.period_end < self.period_begn:
            raise ValueError("检查所属期的结束日期早于开始日期 (period_end is before period_begn)")
        return self


class CaseId(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True,
                              json_schema_extra={"example": {"case_id": "R20250101-1-001"}})

    case_id: str = Field(min_length=1, max_length=60, description="案件编号")


class CaseQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"state": "rectification_due"}})

    state: str | None = Field(None, max_length=30, description="案件状态")
    member: str | None = Field(None, max_length=100, description="检查组成员")
    overdue: bool = Field(False, description="只看逾期案件")
    round_id: str | None = Field(None, max_length=40, description="检查批次编号；outside 为批次外的案件")


class CaseDecision(BaseModel):
    """What a decision (处理决定) settles; with the worklist's confirmed lines it is the case's finding."""

    model_config = ConfigDict(extra="forbid")

    violation_types: str | None = Field(None, max_length=400, description="违规类型（代码，以 ; 分隔）")
    amount_involved: float | None = Field(None, ge=0, le=1e12,
                                          description="涉及金额（元）；不填时为疑点清单中认定属实的金额合计")
    amount_recovered: float = Field(0.0, ge=0, le=1e12, description="追回金额（元）")
    fine_amount: float = Field(0.0, ge=0, le=1e12, description="罚款金额（元）")
    agreement_action: str = Field("none", description="协议处理")
    referral: bool = Field(False, description="移送公安")
    insp_type: str | None = Field(None, description="检查类型；不填时为案件开立时的类型（批次案件为飞行检查）")
    insp_date: date | None = Field(None, description="检查日期；不填时为开始现场检查之日")
    points: list[dict[str, Any]] = Field(default_factory=list, max_length=500, description="医师记分")


class CaseMove(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "case_id": "R20250101-1-001", "target": "assigned", "team": ["张医生", "李会计"],
        "window_begin": "2025-02-10", "window_end": "2025-02-14"}})

    case_id: str = Field(min_length=1, max_length=60, description="案件编号")
    target: str = Field(min_length=1, max_length=30, description="转入的状态")
    note: str | None = Field(None, max_length=1000, description="说明")
    team: list[str] | None = Field(None, max_length=20, description="检查组成员（医学、财务、审计等）")
    window_begin: date | None = Field(None, description="检查开始日期")
    window_end: date | None = Field(None, description="检查结束日期")
    due_date: date | None = Field(None, description="整改期限")
    decision: CaseDecision | None = Field(None, description="作出处理决定时：处理结果（记为本案的检查结果）")


class LineMark(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_key: str = Field(min_length=1, max_length=200, description="疑点编号（规则|层级|明细或就诊）")
    verdict: Literal["unchecked", "confirmed", "rejected"] = Field(description="核查结论：未核查、属实、不属实")
    amount_confirmed: float | None = Field(None, ge=0, description="认定金额（元），属实时默认为涉及金额")
    note: str | None = Field(None, max_length=500, description="说明")


class CaseMarks(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "case_id": "R20250101-1-001", "marks": [{"line_key": "R-KY-01|fee_line|F0001", "verdict": "confirmed"}]}})

    case_id: str = Field(min_length=1, max_length=60, description="案件编号")
    marks: list[LineMark] = Field(min_length=1, max_length=5_000, description="各疑点的核查结论")


class QualityQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"by_type": True}})

    by_type: bool = Field(False, description="按机构类型分列")
    by_quarter: bool = Field(False, description="按检查季度分列（规则质量随时间的变化）")
