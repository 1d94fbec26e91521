"""Departments, diagnoses (ICD-10 医保版) and DRG groups the simulated care is built from.

Each diagnosis says who gets it (sex, age band weights, winter factor), where it is treated
(outpatient, inpatient, maternity, a specialty hospital), how long a stay lasts and which DRG it
groups to. The DRG suffix follows CHS-DRG (1 severe complication, 3 complication, 5 none).
"""

from __future__ import annotations

from dataclasses import dataclass

DEPTS: tuple[tuple[str, str], ...] = (
    ("全科医疗科", "A02"),
    ("内科", "A03"),
    ("外科", "A04"),
    ("妇产科", "A05"),
    ("儿科", "A07"),
    ("眼科", "A10"),
    ("精神科", "A15"),
    ("急诊科", "A20"),
    ("康复医学科", "A21"),
    ("检验科", "A30"),
    ("影像科", "A32"),
    ("中医科", "A50"),
    ("药房", "A69"),
)
DEPT_INDEX = {name: i for i, (name, _) in enumerate(DEPTS)}
DRG_SUFFIX_FACTOR = {1: 1.6, 3: 1.2, 5: 1.0}
# Fund payment per DRG weight unit (yuan); used to price up-coded cases.
DRG_RATE = 9000.0
# Age bands: 0–14, 15–44, 45–64, 65+.
AGE_EDGES = (15, 45, 65)


@dataclass(frozen=True)
class Diag:
    code: str
    name: str
    setting: str  # op | ip | mat_op | mat_ip | rehab | psych | eye | mild
    dept: str
    bands: tuple[float, float, float, float]  # relative rate per age band
    sex: str | None = None
    winter: float = 0.0  # extra relative rate at the respiratory peak
    los: float = 0.0  # mean length of stay (days) for inpatient settings
    adrg: str | None = None
    weight: float = 0.0  # DRG base weight (suffix 5)
    severe: bool = False  # prefers tertiary hospitals
    heavy: str | None = None  # the heavier code an up-coder writes instead
    min_tier: int = 0


DIAGS: tuple[Diag, ...] = (
    # outpatient
    Diag("J06.9", "急性上呼吸道感染", "op", "内科", (3.0, 1.0, 0.8, 0.8), winter=1.2),
    Diag("J20.9", "急性支气管炎", "op", "内科", (1.0, 0.4, 0.5, 0.9), winter=1.0),
    Diag("R50.9", "发热", "op", "儿科", (1.2, 0.2, 0.2, 0.3), winter=0.8),
    Diag("A09.9", "感染性腹泻", "op", "内科", (0.8, 0.3, 0.2, 0.3)),
    Diag("K29.7", "胃炎", "op", "内科", (0.05, 0.8, 1.0, 1.0)),
    Diag("M54.5", "腰痛", "op", "中医科", (0.0, 0.6, 1.0, 1.0)),
    Diag("M17.9", "膝关节病", "op", "外科", (0.0, 0.1, 0.6, 1.0)),
    Diag("L30.9", "皮炎", "op", "内科", (0.4, 0.5, 0.4, 0.4)),
    Diag("H10.9", "结膜炎", "op", "眼科", (0.4, 0.3, 0.2, 0.2)),
    Diag("N76.0", "急性阴道炎", "op", "妇产科", (0.0, 1.0, 0.5, 0.2), sex="2"),
    Diag("N40", "前列腺增生", "op", "外科", (0.0, 0.0, 0.6, 1.5), sex="1"),
    Diag("I10", "原发性高血压", "op", "内科", (0.0, 0.1, 0.6, 0.8)),
    Diag("S93.4", "踝关节扭伤", "op", "外科", (0.3, 0.5, 0.3, 0.2)),
    # chronic outpatient (门诊慢特病) — chosen from the person's conditions, not sampled
    Diag("E11.9", "2型糖尿病", "chronic", "内科", (0, 0, 0, 0)),
    Diag("I10.X", "高血压病（慢特病）", "chronic", "内科", (0, 0, 0, 0)),
    Diag("J44.9", "慢性阻塞性肺病", "chronic", "内科", (0, 0, 0, 0)),
    # inpatient
    Diag("J18.9", "肺炎", "ip", "内科", (1.2, 0.2, 0.4, 1.5), winter=1.5, los=8, adrg="ES3", weight=0.85,
         heavy="J15.9"),
    Diag("J44.1", "慢阻肺急性加重", "ip", "内科", (0.0, 0.0, 0.2, 1.2), winter=1.3, los=10, adrg="ET2",
         weight=1.05, heavy="J96.1"),
    Diag("I63.9", "脑梗死", "ip", "内科", (0.0, 0.05, 0.5, 1.5), los=12, adrg="BR2", weight=1.45,
         severe=True, heavy="I63.5"),
    Diag("I21.9", "急性心肌梗死", "ip", "内科", (0.0, 0.02, 0.25, 0.5), los=8, adrg="FM1", weight=2.6,
         severe=True, heavy="I21.0", min_tier=3),
    Diag("I25.1", "冠状动脉粥样硬化性心脏病", "ip", "内科", (0.0, 0.02, 0.4, 0.8), los=7, adrg="FR2",
         weight=0.85, heavy="I20.0"),
    Diag("E11.9", "2型糖尿病", "ip", "内科", (0.0, 0.05, 0.3, 0.5), los=9, adrg="KD1", weight=0.75,
         heavy="E11.2"),
    Diag("K35.8", "急性阑尾炎", "ip", "外科", (0.4, 0.6, 0.3, 0.2), los=5, adrg="GD1", weight=1.0,
         heavy="K35.2", min_tier=2),
    Diag("K80.2", "胆囊结石", "ip", "外科", (0.0, 0.3, 0.6, 0.6), los=6, adrg="HC2", weight=1.25,
         heavy="K80.0", min_tier=2),
    Diag("S72.0", "股骨颈骨折", "ip", "外科", (0.0, 0.02, 0.1, 0.8), los=14, adrg="IC2", weight=3.0,
         severe=True, heavy="S72.1", min_tier=2),
    Diag("N40", "前列腺增生", "ip", "外科", (0.0, 0.0, 0.2, 0.6), sex="1", los=7, adrg="LB1", weight=1.1,
         heavy="N40.x01", min_tier=2),
    Diag("D25.9", "子宫平滑肌瘤", "ip", "妇产科", (0.0, 0.3, 0.3, 0.05), sex="2", los=7, adrg="NE1",
         weight=1.2, heavy="D25.0", min_tier=2),
    Diag("H25.9", "老年性白内障", "eye", "眼科", (0.0, 0.0, 0.3, 1.0), los=2, adrg="CB3", weight=0.7,
         heavy="H26.9", min_tier=2),
    Diag("Z50.9", "康复治疗", "rehab", "康复医学科", (0.0, 0.2, 0.6, 1.0), los=38, adrg="XR1", weight=2.2),
    Diag("F20.9", "精神分裂症", "psych", "精神科", (0.0, 1.0, 0.8, 0.3), los=60, adrg="TS1", weight=2.8),
    # maternity
    Diag("Z34.9", "正常妊娠监督", "mat_op", "妇产科", (0.0, 1.0, 0.0, 0.0), sex="2"),
    Diag("O80", "单胎顺产", "mat_ip", "妇产科", (0.0, 1.0, 0.0, 0.0), sex="2", los=3, adrg="OC1", weight=0.55),
    Diag("O82", "剖宫产", "mat_ip", "妇产科", (0.0, 1.0, 0.0, 0.0), sex="2", los=5, adrg="OB1", weight=0.95),
    # mild diagnoses: rarely a legitimate admission; the low-threshold schemer's favourites
    Diag("J06.9", "急性上呼吸道感染", "mild", "内科", (0.2, 0.0, 0.05, 0.3), los=3, adrg="DT1", weight=0.42),
    Diag("K29.7", "胃炎", "mild", "内科", (0.0, 0.05, 0.1, 0.3), los=3, adrg="GU1", weight=0.48),
    Diag("M54.5", "腰痛", "mild", "中医科", (0.0, 0.05, 0.1, 0.3), los=4, adrg="IU3", weight=0.55),
)


def diag_ids(setting: str) -> list[int]:
    return [i for i, d in enumerate(DIAGS) if d.setting == setting]


def diag_id(code: str, setting: str) -> int:
    for i, d in enumerate(DIAGS):
        if d.code == code and d.setting == setting:
            return i
    raise KeyError((code, setting))


# Violation patterns simulated (index = pattern id; 0 means legitimate).
PATTERNS = (
    "legit", "split_admission", "phantom_stay", "low_threshold_admission", "over_testing", "repeat_charge",
    "split_charge", "over_price", "item_swap", "sex_restricted", "age_restricted", "over_prescription",
    "card_misuse", "trace_resale", "upcoding", "fabricated", "ring",
)
PATTERN_ID = {p: i for i, p in enumerate(PATTERNS)}
N_PATTERNS_PLUS_ONE = len(PATTERNS)
# Patterns where whole visits are improper (listed in truth/fraud_visits).
VISIT_PATTERNS = ("split_admission", "phantom_stay", "low_threshold_admission", "card_misuse", "fabricated",
                  "trace_resale", "upcoding", "ring")
# Of those, patterns whose every fee line is improper (an up-coded stay's lines are real care).
WHOLE_VISIT_PATTERNS = tuple(p for p in VISIT_PATTERNS if p != "upcoding")
# Patterns inspections treat as fraud (Art. 40: 2–5× fines) rather than non-compliance (Art. 38).
FRAUD_PATTERNS = ("phantom_stay", "card_misuse", "trace_resale", "fabricated", "item_swap", "ring")
# Patterns appended after the original fifteen (a collusion ring, simulator.rings): a province that plants
# none of them draws exactly what it always drew (see inspections._detection).
LATE_PATTERNS = ("ring",)
