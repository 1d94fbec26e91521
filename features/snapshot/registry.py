"""Every feature, declared once.

A `Feature` is frozen data: name, level, family, Chinese label, unit, description, and whether its
raw value means little alone (then it is also peer-normalised: a robust z-score and a percentile
within its peer group). The SQL files in `features/snapshot/sql/` compute the raw columns; a test checks the
SQL's output columns equal these declarations. `feijian features list`, training, explanations,
reports and the API all read this registry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from typing import Literal

from features.facts import MILD_DIAGNOSES
from features.schema import NO_INPATIENT_TYPES

Level = Literal["facility", "physician"]

# Feature families, each one SQL file (features/snapshot/sql/<family>.sql); the build runs them in this order.
FAMILIES: dict[str, str] = {
    "volume": "规模与增长",
    "cost": "费用结构",
    "inpatient": "住院行为",
    "case_mix": "病组结构",
    "patient_mix": "患者构成",
    "prescribing": "处方与药品",
    "concentration": "医师集中度",
    "temporal": "时间形态",
    "rules": "规则命中",
    "rings": "团伙关联",
    "history": "检查历史",
}

# Suffixes of the derived peer columns; their labels are built from the base feature's label.
PEER_Z = "__pz"
PEER_PCT = "__pct"


@dataclass(frozen=True)
class Feature:
    name: str
    level: Level
    family: str
    label: str  # Chinese, what a supervisor reads
    unit: str  # "人次", "元", "%", "天", "比值", …
    description: str
    peer: bool = True  # also emit robust z and percentile within the peer group
    fmt: str = "{:,.2f}"  # how reports print the raw value
    # How a reason reads it (explain.targets): the side of the peer median that indicates the risk its
    # theme names ("high", "low" or "both"), the hint completing "提示…风险" when the theme's or
    # family's does not fit this feature, and the facility kinds it is meaningful for ("all", or
    # "inpatient": not for facilities without beds, `schema.NO_INPATIENT_TYPES`). Wording only: kept
    # out of the declaration fingerprint, which names what is computed.
    risk: Literal["high", "low", "both"] = "high"
    hint: str = ""
    applies: Literal["all", "inpatient"] = "all"

    def applies_to(self, facility_type: str | None) -> bool:
        """Whether the feature means something for a facility of this type (unknown type: yes)."""
        return self.applies == "all" or facility_type is None or facility_type not in NO_INPATIENT_TYPES

    def indicates_risk(self, side: Literal["high", "low"]) -> bool:
        return self.risk in (side, "both")

    def render(self, value: float | None) -> str:
        if value is None or value != value:  # NaN
            return "—"
        if self.unit == "%":
            return f"{100 * value:.1f}%"
        return self.fmt.format(value) + ("" if self.unit in ("比值", "") else self.unit)


def _f(name: str, level: Level, family: str, label: str, unit: str, description: str, **kw: object) -> Feature:
    return Feature(name, level, family, label, unit, description, **kw)  # type: ignore[arg-type]


FAC: Level = "facility"
DR: Level = "physician"
INT = "{:,.0f}"

FEATURES: tuple[Feature, ...] = (
    # --- volume and growth -------------------------------------------------------------------
    _f("n_visits", FAC, "volume", "就诊人次", "人次", "Visits settled in the window.", fmt=INT),
    _f("n_admissions", FAC, "volume", "住院人次", "人次", "Inpatient admissions discharged in the window.", fmt=INT),
    _f("n_patients", FAC, "volume", "就诊人数", "人", "Distinct insured people seen.", fmt=INT),
    _f("fund_pay", FAC, "volume", "基金支付总额", "元", "Fund payout (fund_pay_sumamt, refunds netted).", fmt=INT),
    _f(
        "fund_pay_growth",
        FAC,
        "volume",
        "基金支付增长率",
        "%",
        "Fund payout against the previous window of the same length (0 when new).",
    ),
    _f("visits_growth", FAC, "volume", "就诊人次增长率", "%", "Visits against the previous window."),
    _f("admission_rate", FAC, "volume", "住院率", "%", "Admissions per distinct patient."),
    _f("beds_utilisation", FAC, "volume", "床位使用率", "%", "Inpatient bed-days over open beds × days in the window."),
    # --- cost structure ---------------------------------------------------------------------
    _f("drug_share", FAC, "cost", "药品费占比", "%", "Drug and herbal fees over total fees."),
    _f("test_share", FAC, "cost", "检查化验费占比", "%", "Examination and laboratory fees over total fees."),
    _f("consumable_share", FAC, "cost", "耗材费占比", "%", "Medical consumables over total fees."),
    _f("treatment_share", FAC, "cost", "治疗手术费占比", "%", "Treatment and surgery fees over total fees."),
    _f("selfpay_item_share", FAC, "cost", "丙类项目占比", "%", "Self-pay (丙类) items over total fees."),
    _f("cost_per_outpatient_visit", FAC, "cost", "次均门诊费用", "元", "Mean fees per outpatient visit."),
    _f("cost_per_admission", FAC, "cost", "次均住院费用", "元", "Mean fees per admission."),
    _f("cost_per_bed_day", FAC, "cost", "床日费用", "元", "Inpatient fees per bed-day."),
    _f("tests_per_visit", FAC, "cost", "次均检查化验项数", "项", "Examination and lab lines per visit."),
    # --- inpatient behaviour ----------------------------------------------------------------
    _f("alos", FAC, "inpatient", "平均住院日", "天", "Mean length of stay."),
    _f("short_stay_share", FAC, "inpatient", "短住院（≤2天）占比", "%", "Stays of at most two days."),
    _f(
        "readmit_0_7_rate",
        FAC,
        "inpatient",
        "7日内再入院率",
        "%",
        "Admissions of a patient discharged from the same facility 0–7 days before.",
    ),
    _f(
        "readmit_8_15_rate",
        FAC,
        "inpatient",
        "8–15日再入院率",
        "%",
        "Admissions of a patient discharged from the same facility 8–15 days before.",
    ),
    _f(
        "mild_admission_share",
        FAC,
        "inpatient",
        "轻症入院占比",
        "%",
        f"Admissions whose main diagnosis is on the mild list ({'/'.join(MILD_DIAGNOSES)}) with a stay ≤ 4 days.",
    ),
    _f(
        "no_treatment_day_share",
        FAC,
        "inpatient",
        "无治疗住院日占比",
        "%",
        "Inpatient days with a bed fee but no treatment, drug, test or surgery billed.",
    ),
    _f(
        "over_capacity_days",
        FAC,
        "inpatient",
        "超床位天数",
        "天",
        "Days on which billed bed-days exceeded the open beds.",
        fmt=INT,
    ),
    # --- case mix ---------------------------------------------------------------------------
    _f("case_mix_index", FAC, "case_mix", "病例组合指数（CMI）", "比值", "Mean DRG/DIP weight of admissions."),
    _f(
        "drg_cost_index",
        FAC,
        "case_mix",
        "病组费用指数",
        "比值",
        "Fees over the province median fees of the same DRG groups (low = care lighter than the coded group).",
    ),
    _f(
        "drg_los_index",
        FAC,
        "case_mix",
        "病组住院日指数",
        "比值",
        "Length of stay over the province median of the same DRG groups.",
    ),
    # --- patient mix ------------------------------------------------------------------------
    _f("female_share", FAC, "patient_mix", "女性患者占比", "%", "Share of visits by women."),
    _f("child_share", FAC, "patient_mix", "儿童患者占比", "%", "Share of visits by children under 15."),
    _f("elderly_share", FAC, "patient_mix", "老年患者占比", "%", "Share of visits by people aged 65 or more."),
    _f(
        "sex_item_mismatch_rate",
        FAC,
        "patient_mix",
        "限性别项目性别不符率",
        "%",
        "Sex-restricted item lines billed to the other sex, over all sex-restricted lines.",
    ),
    _f(
        "age_item_mismatch_rate",
        FAC,
        "patient_mix",
        "限年龄项目年龄不符率",
        "%",
        "Age-restricted item lines billed outside the age range, over all age-restricted lines.",
    ),
    _f("visits_per_patient", FAC, "patient_mix", "人均就诊次数", "次", "Visits per distinct patient."),
    _f(
        "multi_facility_patient_share",
        FAC,
        "patient_mix",
        "多机构就诊患者占比",
        "%",
        "Patients also seen at four or more facilities in the window.",
    ),
    _f(
        "same_day_multi_facility_share",
        FAC,
        "patient_mix",
        "同日多机构就诊占比",
        "%",
        "Visits by a patient who had a visit at another facility the same day (shared-card signal).",
    ),
    _f(
        "heavy_card_share",
        FAC,
        "patient_mix",
        "高频使用医保卡占比",
        "%",
        "Visits on cards used here more than 30 times in the window (card renting signal).",
    ),
    # --- prescribing ------------------------------------------------------------------------
    _f(
        "days_supply_per_patient",
        FAC,
        "prescribing",
        "人均开药天数",
        "天",
        "Days of drug supply dispensed per patient (cnt × days per unit).",
    ),
    _f(
        "over_supply_line_share",
        FAC,
        "prescribing",
        "超量开药明细占比",
        "%",
        "Drug lines whose days of supply exceed the catalogue's maximum.",
    ),
    _f(
        "trace_dup_share",
        FAC,
        "prescribing",
        "追溯码重复结算占比",
        "%",
        "Traced drug lines whose trace code was settled before on another line.",
    ),
    # --- physician concentration ------------------------------------------------------------
    _f(
        "top1_physician_share",
        FAC,
        "concentration",
        "首位医师费用占比",
        "%",
        "Share of billed fees from the facility's top physician.",
    ),
    _f(
        "top3_physician_share",
        FAC,
        "concentration",
        "前三位医师费用占比",
        "%",
        "Share of billed fees from the top three physicians.",
    ),
    _f(
        "n_physicians_billing",
        FAC,
        "concentration",
        "开单医师数",
        "人",
        "Physicians who billed in the window.",
        fmt=INT,
    ),
    _f(
        "max_physician_peer_z",
        FAC,
        "concentration",
        "医师最高同科室偏离度",
        "比值",
        "Largest robust z of a physician's fees per patient against department peers.",
    ),
    _f(
        "outlier_physician_share",
        FAC,
        "concentration",
        "异常医师占比",
        "%",
        "Physicians whose fees per patient are more than 3 robust z above department peers.",
    ),
    # --- temporal shape ---------------------------------------------------------------------
    _f(
        "level_shift",
        FAC,
        "temporal",
        "月度费用突变倍数",
        "比值",
        "Largest month's fund payout over the median of the facility's own earlier months.",
    ),
    _f(
        "code_mix_shift",
        FAC,
        "temporal",
        "收费结构变化度",
        "比值",
        "Total-variation distance between the last three months' fee-category mix and the months before.",
    ),
    _f(
        "recent_growth",
        FAC,
        "temporal",
        "近三月增长率",
        "%",
        "Fund payout of the last three months against the three before.",
    ),
    # --- rule hits --------------------------------------------------------------------------
    _f("rule_hit_lines", FAC, "rules", "规则命中明细数", "条", "Fee lines and visits hit by any rule.", fmt=INT),
    _f("rule_hit_amount", FAC, "rules", "规则命中金额", "元", "Amount at risk over all rule hits.", fmt=INT),
    _f("rule_hit_amount_share", FAC, "rules", "规则命中金额占比", "%", "Amount at risk over total fees."),
    _f("n_rules_hit", FAC, "rules", "命中规则数", "条", "Distinct rules hit.", fmt=INT),
    _f(
        "hit_admission_share",
        FAC,
        "rules",
        "住院类规则命中率",
        "%",
        "Admissions hit by an inpatient rule (readmission, mild admission, phantom stay, billing outside stay).",
    ),
    _f(
        "hit_restricted_share",
        FAC,
        "rules",
        "限定类规则命中率",
        "%",
        "Item lines hit by a sex, age, frequency, quantity or facility-level restriction.",
    ),
    _f(
        "hit_charge_share",
        FAC,
        "rules",
        "收费类规则命中金额占比",
        "%",
        "Amount hit by repeated, split, duplicate or over-price charging over total fees.",
    ),
    _f(
        "hit_drug_share",
        FAC,
        "rules",
        "药品类规则命中金额占比",
        "%",
        "Amount hit by over-prescription or duplicate trace codes over drug fees.",
    ),
    _f(
        "hit_visit_pattern_share",
        FAC,
        "rules",
        "就诊模式规则命中率",
        "%",
        "Visits hit by frequent-visit or diagnosis–sex rules.",
    ),
    # --- collusion rings (features/rings: the window's rings; 0 for a facility in none) ----------
    _f("ring_facilities", FAC, "rings", "所在团伙机构数", "家",
       "Member facilities of the ring it is in (0: in no ring found in the window).", peer=False, fmt=INT),
    _f("ring_persons", FAC, "rings", "团伙共用参保人数", "人",
       "Cards seen at two members of its ring on the same or the next day.", peer=False, fmt=INT),
    _f("ring_pool_share", FAC, "rings", "共用参保人支付占比", "%",
       "Fund payout of its ring's shared cards at the facility over its whole payout.", peer=False),
    _f("ring_burst_days", FAC, "rings", "团伙集中就诊天数", "天",
       "Days on which at least four shared cards came to two members of its ring.", peer=False, fmt=INT),
    _f("ring_trace_codes", FAC, "rings", "团伙内跨机构重复追溯码", "个",
       "Drug trace codes settled at two members of its ring.", peer=False, fmt=INT),
    _f("ring_inside_share", FAC, "rings", "团伙内支付占比", "%",
       "The shared cards' payout at all members of its ring over the members' whole payout.", peer=False),
    # --- inspection history -----------------------------------------------------------------
    _f("prior_inspections", FAC, "history", "既往检查次数", "次", "Inspections before as_of.", peer=False, fmt=INT),
    _f(
        "prior_serious_findings",
        FAC,
        "history",
        "既往严重问题次数",
        "次",
        "Earlier inspections with a serious finding (recovered ≥ 50,000 or a fraud-level sanction).",
        peer=False,
        fmt=INT,
    ),
    _f(
        "prior_recovered",
        FAC,
        "history",
        "既往追回金额",
        "元",
        "Amount recovered by earlier inspections.",
        peer=False,
        fmt=INT,
    ),
    _f(
        "days_since_inspection",
        FAC,
        "history",
        "距上次检查天数",
        "天",
        "Days since the last inspection (3650 when never inspected).",
        peer=False,
        fmt=INT,
    ),
    # --- physicians ---------------------------------------------------------------------------
    _f("dr_amount", DR, "volume", "医师开单金额", "元", "Fees billed by the physician.", fmt=INT),
    _f("dr_lines", DR, "volume", "医师开单明细数", "条", "Fee lines billed by the physician.", fmt=INT),
    _f("dr_patients", DR, "volume", "医师服务人数", "人", "Distinct patients billed.", fmt=INT),
    _f("dr_amount_per_patient", DR, "cost", "医师人均开单金额", "元", "Fees billed per patient."),
    _f("dr_drug_share", DR, "cost", "医师药品费占比", "%", "Drug fees over the physician's fees."),
    _f("dr_test_share", DR, "cost", "医师检查化验费占比", "%", "Examination and lab fees over the physician's fees."),
    _f(
        "dr_facility_share",
        DR,
        "concentration",
        "占本机构费用比例",
        "%",
        "The physician's share of the facility's billed fees.",
    ),
    _f("dr_admissions", DR, "inpatient", "主诊住院人次", "人次", "Admissions with the physician attending.", fmt=INT),
    _f(
        "dr_readmit_0_7_rate",
        DR,
        "inpatient",
        "主诊7日内再入院率",
        "%",
        "Readmissions within 0–7 days among the physician's admissions.",
    ),
    _f("dr_short_stay_share", DR, "inpatient", "主诊短住院占比", "%", "Stays of at most two days."),
    _f("dr_days_supply_per_patient", DR, "prescribing", "医师人均开药天数", "天", "Days of drug supply per patient."),
    _f(
        "dr_rule_hit_amount",
        DR,
        "rules",
        "医师规则命中金额",
        "元",
        "Amount at risk in the physician's rule hits.",
        fmt=INT,
    ),
    _f(
        "dr_rule_hit_share",
        DR,
        "rules",
        "医师规则命中金额占比",
        "%",
        "Amount at risk over the physician's billed fees.",
    ),
    _f("dr_n_rules_hit", DR, "rules", "医师命中规则数", "条", "Distinct rules hit.", fmt=INT),
)

# Columns every snapshot carries besides the features (identity and peer group): the build takes these
# from `fac_tier` (features.snapshot.window) and `physician_raw` (features/snapshot/sql/physician.sql).
# How reasons read each feature (see `Feature.risk`, `hint`, `applies`); features not named read the
# default: above peers indicates the risk of their theme (explain.reasons) or family.
_INPATIENT = (
    *("n_admissions", "admission_rate", "beds_utilisation", "cost_per_admission", "cost_per_bed_day", "alos"),
    *("short_stay_share", "readmit_0_7_rate", "readmit_8_15_rate", "mild_admission_share"),
    *("no_treatment_day_share", "over_capacity_days", "case_mix_index", "drg_cost_index", "drg_los_index"),
    *("dr_admissions", "dr_short_stay_share", "dr_readmit_0_7_rate"),
)
_SCALE_HINT = "服务量或费用规模异常"
_READING: dict[str, dict[str, str]] = {
    **{name: {"applies": "inpatient"} for name in _INPATIENT},
    "n_admissions": {"applies": "inpatient", "hint": _SCALE_HINT},
    **{name: {"hint": _SCALE_HINT} for name in ("n_visits", "n_patients", "fund_pay", "dr_amount", "dr_lines")},
    "dr_patients": {"hint": _SCALE_HINT},
    "n_physicians_billing": {"risk": "low", "hint": "费用集中于少数医师"},
    **{name: {"risk": "both"} for name in ("female_share", "child_share", "elderly_share")},
    "days_since_inspection": {"hint": "长期未接受检查"},
    "prior_inspections": {"hint": "既往问题复发"},
}
FEATURES = tuple(replace(f, **_READING[f.name]) if f.name in _READING else f for f in FEATURES)  # type: ignore[arg-type]
_unknown = set(_READING) - {f.name for f in FEATURES}
if _unknown:
    raise KeyError(f"_READING names undeclared features: {sorted(_unknown)}")


FACILITY_KEYS = ("fixmedins_code", "fixmedins_type", "hosp_lv", "hosp_tier", "ownership", "admdvs", "peer_group")
PHYSICIAN_KEYS = ("dr_code", "fixmedins_code", "dept", "peer_group")


def features(level: Level | None = None, family: str | None = None) -> tuple[Feature, ...]:
    return tuple(f for f in FEATURES if (level is None or f.level == level) and (family is None or f.family == family))


def get(name: str) -> Feature:
    for f in FEATURES:
        if f.name == name:
            return f
    base = name.removesuffix(PEER_Z).removesuffix(PEER_PCT)
    if base != name:
        return get(base)
    raise KeyError(f"unknown feature {name!r}")


def model_columns(level: Level) -> list[str]:
    """Raw features plus their peer z-scores and percentiles: what models see, in a fixed order."""
    cols: list[str] = []
    for f in features(level):
        cols.append(f.name)
        if f.peer:
            cols += [f.name + PEER_Z, f.name + PEER_PCT]
    return cols


def column_label(column: str) -> str:
    """Chinese label for a model column, derived columns included."""
    f = get(column)
    if column.endswith(PEER_Z):
        return f"{f.label}（同类标准分）"
    if column.endswith(PEER_PCT):
        return f"{f.label}（同类百分位）"
    return f.label


def declaration_version() -> str:
    """A short fingerprint of the declarations: snapshots and models record it; a mismatch is refused."""
    wording = ("risk", "hint", "applies")
    rows = [{k: v for k, v in asdict(f).items() if k not in wording} for f in FEATURES]
    payload = json.dumps(rows, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]
