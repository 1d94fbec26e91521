"""The rule kinds the engine can evaluate, declared once.

A rule in `rules.yaml` is data: a kind plus parameters. The kind is code: one SQL file in
`features/rules/sql/<kind>.sql`, the grain it hits at (a fee line or a visit), the parameters it needs
(with their types, so YAML values are validated before they reach SQL) and the detail fields its
`hits` CTE yields for the reason sentence. Keeping these together means a rule author can see
what a template may mention without reading SQL, and a test can check every kind against its file.

A kind also carries where its hits count: the reason theme they are evidence for (an id of
explain.reasons.THEMES, which reads it from here) and the rules-family share feature that counts
them (features/snapshot/sql/rules.sql, which gets the kinds of each share as a parameter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

HitLevel = Literal["fee_line", "visit"]
# int: whole number ≥ 0 · number: finite number · bool · codes: non-empty list of code strings
# (these four are bound as DuckDB parameters, `$name`; a code list is read as `col IN $name`) ·
# icd3: non-empty list of 3-character ICD-10 codes or ranges ("N70-N98"), written as a predicate over
# the column `diag3` into the kind's `${name}` slot.
ParamType = Literal["int", "number", "bool", "codes", "icd3"]
# How a detail field is printed in the reason sentence and the detail JSON.
FieldType = Literal["str", "int", "num", "date", "pseudonym"]
# The rules-family shares that count hits by kind (features/snapshot/sql/rules.sql); each is a feature name.
HitShare = Literal[
    "hit_admission_share", "hit_restricted_share", "hit_charge_share", "hit_drug_share", "hit_visit_pattern_share"
]
HIT_SHARES: tuple[HitShare, ...] = (
    "hit_admission_share", "hit_restricted_share", "hit_charge_share", "hit_drug_share", "hit_visit_pattern_share"
)

# Columns every `hits` CTE provides besides its detail fields; templates may use these names.
STANDARD_FIELDS: dict[str, tuple[str, FieldType]] = {
    "psn": ("psn_no", "pseudonym"),  # a 64-character keyed hash: its first 8 characters in the sentence
    "fixmedins": ("fixmedins_code", "str"),
    "mdtrt": ("mdtrt_id", "str"),
    "dr": ("dr_code", "str"),
    "date": ("event_time", "date"),
    "amount": ("amount_at_risk", "num"),
}


@dataclass(frozen=True)
class Kind:
    name: str
    label: str  # Chinese
    hit_level: HitLevel
    params: dict[str, ParamType]
    fields: dict[str, FieldType]
    theme: str | None = None  # the reason theme (explain.reasons) its hits are evidence for
    hit_share: HitShare | None = None  # the rules-family share that counts its hits


_KINDS: tuple[Kind, ...] = (
    Kind("gender_restricted", "限性别", "fee_line", {},
         {"item_name": "str", "gend_name": "str", "lmt_gend_name": "str"},
         theme="sex_restricted", hit_share="hit_restricted_share"),
    Kind("age_restricted", "限年龄", "fee_line",
         {"check_max": "bool", "check_min": "bool", "tolerance_years": "int"},
         {"item_name": "str", "age": "int", "age_range": "str"},
         theme="age_restricted", hit_share="hit_restricted_share"),
    Kind("frequency_per_period", "限定频次", "fee_line", {"tolerance_days": "int"},
         {"item_name": "str", "n": "int", "max_cnt": "int", "period_days": "int", "prev_date": "date"},
         theme="over_testing", hit_share="hit_restricted_share"),
    Kind("daily_quantity", "每日限定数量", "fee_line", {"tolerance": "number"},
         {"item_name": "str", "day_cnt": "num", "max_cnt": "num"},
         theme="charging", hit_share="hit_restricted_share"),
    Kind("package_repeat", "打包项目重复收费", "fee_line", {},
         {"item_name": "str", "package_name": "str", "package_codg": "str"},
         theme="charging", hit_share="hit_charge_share"),
    Kind("split_charge", "分解收费", "fee_line", {"min_components": "int"},
         {"item_name": "str", "package_name": "str", "n_components": "int", "component_amt": "num",
          "package_price": "num"},
         theme="charging", hit_share="hit_charge_share"),
    Kind("duplicate_line", "明细重复收费", "fee_line", {"list_types": "codes"},
         {"item_name": "str", "n_copies": "int", "copy_no": "int"},
         theme="charging", hit_share="hit_charge_share"),
    Kind("price_cap", "超限定单价", "fee_line", {"tolerance_ratio": "number"},
         {"item_name": "str", "pric": "num", "price_cap": "num", "cnt": "num"},
         theme="charging", hit_share="hit_charge_share"),
    Kind("facility_level", "限医疗机构级别", "fee_line", {},
         {"item_name": "str", "min_tier": "int", "facility_tier": "int", "hosp_lv_name": "str"},
         hit_share="hit_restricted_share"),
    Kind("readmission", "再入院间隔", "visit",
         {"med_types": "codes", "min_gap_days": "int", "max_gap_days": "int"},
         {"gap_days": "int", "prev_mdtrt_id": "str", "prev_end_date": "date", "diag": "str",
          "prev_diag": "str"},
         theme="readmission", hit_share="hit_admission_share"),
    Kind("billing_outside_stay", "计费日期与住院时间不符", "fee_line",
         {"med_types": "codes", "tolerance_days": "int"},
         {"item_name": "str", "fee_date": "date", "begin_date": "date", "end_date": "date"},
         theme="phantom_stay", hit_share="hit_admission_share"),
    Kind("diagnosis_gender", "诊断与性别不符", "visit", {"female_only": "icd3", "male_only": "icd3"},
         {"diag": "str", "gend_name": "str", "diag_sex": "str"},
         theme="sex_restricted", hit_share="hit_visit_pattern_share"),
    Kind("frequent_visits", "频繁就诊", "visit",
         {"med_types": "codes", "lookback_days": "int", "max_visits": "int"},
         {"n_visits": "int", "window_days": "int"},
         theme="card_misuse", hit_share="hit_visit_pattern_share"),
    Kind("same_day_facilities", "同日多机构就诊", "visit", {"med_types": "codes", "min_facilities": "int"},
         {"n_facilities": "int"},
         theme="card_misuse"),
    Kind("mild_admission", "无指征住院", "visit",
         {"med_types": "codes", "max_los_days": "int"},
         {"diag": "str", "los_days": "int"},
         theme="mild_admission", hit_share="hit_admission_share"),
    Kind("days_supply", "超量开药", "fee_line", {"tolerance_days": "number"},
         {"item_name": "str", "supply_days": "num", "max_days_supply": "int", "total_cnt": "num"},
         theme="over_supply", hit_share="hit_drug_share"),
    Kind("trace_duplicate", "追溯码重复结算", "fee_line", {},
         {"item_name": "str", "trace_code": "str", "n_settled": "int", "settle_no": "int",
          "first_fixmedins": "str", "first_date": "date"},
         theme="trace_code", hit_share="hit_drug_share"),
    Kind("no_treatment_days", "挂床住院", "visit",
         {"med_types": "codes", "idle_chrgitm_types": "codes", "min_los_days": "int",
          "min_idle_share": "number"},
         {"los_days": "int", "idle_days": "int", "idle_pct": "num"},
         theme="phantom_stay", hit_share="hit_admission_share"),
)

KINDS: dict[str, Kind] = {k.name: k for k in _KINDS}


def kinds_of_theme(theme: str) -> tuple[str, ...]:
    """The kinds whose hits are evidence for a reason theme."""
    return tuple(k.name for k in _KINDS if k.theme == theme)


def kinds_counted_in(share: HitShare) -> tuple[str, ...]:
    """The kinds a rules-family share counts."""
    return tuple(k.name for k in _KINDS if k.hit_share == share)


def hit_share_params() -> dict[str, tuple[str, ...]]:
    """The kinds of each share as the parameters features/snapshot/sql/rules.sql reads ($hit_admission_kinds, …)."""
    return {share.removesuffix("_share") + "_kinds": kinds_counted_in(share) for share in HIT_SHARES}


def kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown rule kind {name!r}; kinds: {', '.join(KINDS)}") from None
