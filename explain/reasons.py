"""Reasons a supervisor reads: model columns grouped into themes, themes linked to rule kinds.

SHAP gives one contribution per model column, but `readmit_0_7_rate`, its peer z-score and its
percentile say one thing three ways, and the 7-day and 8–15-day readmission rates say nearly the same
thing. A *theme* groups such columns (a base feature always carries its `__pz`/`__pct` columns with
it) so that one reason stands for all of them, with their contributions summed.

Each theme also names the rule kinds whose hits are its claim-level evidence. A kind declares its
theme itself (features/rules/kinds.py, `theme`); a theme of one rules-family share (hit_*) takes the
kinds that share counts (the kind's `hit_share`, which features/snapshot/sql/rules.sql reads too); rule_total
takes every kind.

A feature in no theme is a theme of its own (no rule kinds). Wording states indicators ("提示…风险"),
never guilt.
"""

from __future__ import annotations

from dataclasses import dataclass

from features.rules.kinds import kinds_counted_in, kinds_of_theme
from features.snapshot import registry
from features.snapshot.registry import PEER_PCT, PEER_Z

ALL_KINDS = ("*",)


@dataclass(frozen=True)
class Theme:
    id: str
    hint: str  # completes "提示{hint}风险"
    features: tuple[str, ...]
    kinds: tuple[str, ...] = ()


THEMES: tuple[Theme, ...] = (
    Theme(
        "readmission",
        "分解住院",
        ("readmit_0_7_rate", "readmit_8_15_rate", "dr_readmit_0_7_rate"),
        kinds_of_theme("readmission"),
    ),
    Theme(
        "mild_admission",
        "低标准入院",
        ("mild_admission_share", "short_stay_share", "admission_rate", "dr_short_stay_share", "dr_admissions"),
        kinds_of_theme("mild_admission"),
    ),
    Theme(
        "phantom_stay",
        "挂床住院",
        ("no_treatment_day_share", "over_capacity_days", "beds_utilisation", "alos"),
        kinds_of_theme("phantom_stay"),
    ),
    Theme("sex_restricted", "限性别项目违规收费", ("sex_item_mismatch_rate",), kinds_of_theme("sex_restricted")),
    Theme("age_restricted", "限年龄项目违规收费", ("age_item_mismatch_rate",), kinds_of_theme("age_restricted")),
    Theme(
        "over_testing", "过度检查", ("tests_per_visit", "test_share", "dr_test_share"), kinds_of_theme("over_testing")
    ),
    Theme(
        "over_supply",
        "超量开药",
        ("days_supply_per_patient", "over_supply_line_share", "dr_days_supply_per_patient", "drug_share"),
        kinds_of_theme("over_supply"),
    ),
    Theme("trace_code", "药品追溯码重复结算（回流药）", ("trace_dup_share",), kinds_of_theme("trace_code")),
    Theme(
        "card_misuse",
        "冒名就医或出借医保卡",
        ("multi_facility_patient_share", "same_day_multi_facility_share", "heavy_card_share", "visits_per_patient"),
        kinds_of_theme("card_misuse"),
    ),
    Theme(
        "charging",
        "重复收费、分解收费或超标准收费",
        ("consumable_share", "treatment_share", "hit_charge_share"),
        kinds_of_theme("charging"),
    ),
    Theme("hit_admission", "住院类违规", ("hit_admission_share",), kinds_counted_in("hit_admission_share")),
    Theme("hit_restricted", "限定支付范围违规", ("hit_restricted_share",), kinds_counted_in("hit_restricted_share")),
    Theme("hit_drug", "药品违规使用", ("hit_drug_share",), kinds_counted_in("hit_drug_share")),
    Theme(
        "hit_visit_pattern", "异常就诊模式", ("hit_visit_pattern_share",), kinds_counted_in("hit_visit_pattern_share")
    ),
    Theme(
        "rule_total",
        "多项规则违规",
        (
            *("rule_hit_lines", "rule_hit_amount", "rule_hit_amount_share", "n_rules_hit"),
            *("dr_rule_hit_amount", "dr_rule_hit_share", "dr_n_rules_hit"),
        ),
        ALL_KINDS,
    ),
)

# Hints for features in no theme, by family.
FAMILY_HINT: dict[str, str] = {
    "volume": "费用或服务量异常增长",
    "cost": "费用结构异常",
    "inpatient": "住院行为异常",
    "case_mix": "病组编码（高套）",
    "patient_mix": "患者构成异常",
    "prescribing": "处方异常",
    "concentration": "费用集中于个别医师",
    "temporal": "费用突变",
    "rules": "规则违规",
    "rings": "医患串通、出借医保卡（团伙）",
    "history": "既往问题复发",
}

_BY_FEATURE = {f: t for t in THEMES for f in t.features}


def base_of(column: str) -> str:
    return column.removesuffix(PEER_Z).removesuffix(PEER_PCT)


def theme_of(column: str) -> Theme:
    """The theme a model column belongs to; a column the registry does not declare is a context column
    (type, tier, anomaly score: training's model inputs besides the features) and forms its own."""
    base = base_of(column)
    if base in _BY_FEATURE:
        return _BY_FEATURE[base]
    if not is_reason_column(base):
        return Theme(f"context:{base}", "", (base,))
    f = registry.get(base)
    return Theme(f"feature:{base}", FAMILY_HINT.get(f.family, "异常"), (base,))


def is_reason_column(column: str) -> bool:
    """Registry features make reasons; context columns (type, tier, anomaly score) only contribute."""
    try:
        registry.get(base_of(column))
    except KeyError:
        return False
    return True


def percentile_text(pct: float | None) -> str:
    if pct is None or pct != pct:
        return ""
    return f"第{min(100, max(0, round(100 * pct)))}百分位"


def side_of(value: float | None, median: float | None, pct: float | None) -> str | None:
    """"high" or "low" against the peers (the median, else the percentile); None when level or unknown."""
    if value is None or value != value:
        return None
    if median is not None and median == median:
        return "high" if value > median else ("low" if value < median else None)
    if pct is not None and pct == pct:
        return "high" if pct > 0.5 else ("low" if pct < 0.5 else None)
    return None


def reason_hint(feature: str, theme_hint: str) -> str:
    """What the feature indicates: its own declared hint, else its theme's (or family's)."""
    return registry.get(feature).hint or theme_hint


def reason_text(
    feature: str,
    value: float | None,
    median: float | None,
    pct: float | None,
    hint: str,
    peer_word: str = "同类同级机构中位数",
    facility_type: str | None = None,
) -> str | None:
    """'15日内再入院率 18.2%，同类同级机构中位数 3.1%（第99百分位），高于同类，提示分解住院风险',
    or None when the value cannot be a reason: missing, inapplicable to the facility's type, level
    with its peers, or on the side of the peers the feature does not declare as a risk."""
    f = registry.get(feature)
    side = side_of(value, median, pct)
    if not f.applies_to(facility_type) or side is None or not f.indicates_risk(side):  # type: ignore[arg-type]
        return None
    text = f"{f.label} {f.render(value)}"
    if median is not None and median == median:
        text += f"，{peer_word} {f.render(median)}"
    pt = percentile_text(pct)
    if pt:
        text += f"（{pt}）"
    text += "，高于同类" if side == "high" else "，低于同类"
    hint = reason_hint(feature, hint)
    return text + (f"，提示{hint}风险" if hint else "")
