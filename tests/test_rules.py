"""Each rule kind fires on its violation and stays silent on the legitimate look-alike.

Every case names the exact hits expected per rule (fee line numbers or visit ids); any other hit —
including one on a look-alike — fails the test. The reasons the hits carry are checked too: no
leftover placeholder, indicators not guilt.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from features.rules.base import EVIDENCE_COLUMNS, evaluate_rules, load_rules
from tests.rule_cases import RuleCase, at

Expected = dict[str, set[str]]
RULES = load_rules()


def _gender(c: RuleCase) -> Expected:
    c.visit("V1", gend="2")
    bad_psa = c.line("V1", "PSA")  # prostate test for a woman
    c.visit("V2", gend="2", psn="P2")
    c.line("V2", "GYN")  # a woman's gynaecology exam: fine
    c.visit("V3", gend="1", psn="P3")
    bad_gyn = c.line("V3", "GYN")
    c.line("V3", "PSA")  # a man's PSA: fine
    c.visit("V4", gend="9", psn="P4")
    c.line("V4", "PSA")  # sex unknown: not judged
    return {"R-XB-01": {bad_psa, bad_gyn}}


def _age(c: RuleCase) -> Expected:
    c.visit("V1", age=40)
    adult_paed = c.line("V1", "PAED")
    c.visit("V2", age=14, psn="P2")
    c.line("V2", "PAED")  # at the upper bound: fine
    c.visit("V3", age=10, psn="P3")
    child_adult = c.line("V3", "ADULT")
    c.line("V3", "PAED")  # a child's paediatric item: fine
    c.visit("V4", age=18, psn="P4")
    c.line("V4", "ADULT")  # at the lower bound: fine
    return {"R-NL-01": {adult_paed}, "R-NL-02": {child_adult}}


def _frequency(c: RuleCase) -> Expected:
    hits = set()
    for psn, days in {"P1": (0, 60), "P2": (0, 95), "P3": (0, 90), "P4": (0, 100, 150)}.items():
        for d in days:
            vid = c.visit(f"V{psn}{d}", psn=psn, begin=at(d))
            sn = c.line(vid, "HBA1C")
            if (psn, d) in {("P1", 60), ("P4", 150)}:
                hits.add(sn)
    # A diabetic's HbA1c 95 (or 90) days apart is the guideline interval: silent.
    return {"R-PC-01": hits}


def _daily(c: RuleCase) -> Expected:
    c.visit("V1", med_type="21", begin=at(0), end=at(5))
    c.line("V1", "BED", time=at(0, 10))
    second = c.line("V1", "BED", time=at(0, 18))  # bed fee twice on day 0
    for d in (1, 2, 3):
        c.line("V1", "BED", time=at(d))  # once a day: fine
    return {"R-SL-01": {second}}


def _package_repeat(c: RuleCase) -> Expected:
    c.visit("V1")
    c.line("V1", "PKG")
    comp = c.line("V1", "PKG_A")  # component with its package, same day
    c.visit("V2", psn="P2", med_type="21", begin=at(0), end=at(3))
    c.line("V2", "PKG", time=at(0))
    c.line("V2", "PKG_A", time=at(1))  # next day: a separate test, fine
    c.visit("V3", psn="P3")
    c.line("V3", "PKG_A")  # component alone: fine
    return {"R-CF-01": {comp}}


def _split(c: RuleCase) -> Expected:
    c.visit("V1")
    a, b, d = c.line("V1", "PKG_A"), c.line("V1", "PKG_B"), c.line("V1", "PKG_C")
    c.visit("V2", psn="P2")
    c.line("V2", "PKG_A")  # one component alone: legitimate
    c.visit("V3", psn="P3")
    for item in ("PKG", "PKG_A", "PKG_B"):
        c.line("V3", item)  # package billed: repeat charge, not a split
    return {"R-FJ-01": {a, b, d}}


def _duplicate(c: RuleCase) -> Expected:
    c.visit("V1")
    c.line("V1", "CT", time=at(0, 10))
    dup = c.line("V1", "CT", time=at(0, 10))
    c.line("V1", "CT", time=at(0, 15))  # a second scan later that day: not identical
    c.line("V1", "DRUG", time=at(0, 10))
    c.line("V1", "DRUG", time=at(0, 10))  # drugs are not judged by this rule
    return {"R-CF-02": {dup}}


def _price(c: RuleCase) -> Expected:
    c.visit("V1")
    over = c.line("V1", "CT", pric=120.0)
    c.line("V1", "CT", pric=100.0, time=at(0, 11))  # at the cap: fine
    return {"R-JG-01": {over}}


def _level(c: RuleCase) -> Expected:
    c.visit("V1", fac="F2")
    low = c.line("V1", "MRI3")
    c.visit("V2", fac="F3", psn="P2")
    c.line("V2", "MRI3")  # tertiary hospital: fine
    return {"R-JB-01": {low}}


def _readmission(c: RuleCase) -> Expected:
    def stays(psn: str, first_end: int, second_begin: int, fac2: str = "F3", mt2: str = "21") -> str:
        c.visit(f"{psn}a", psn=psn, med_type="21", begin=at(0), end=at(first_end))
        return c.visit(f"{psn}b", psn=psn, fac=fac2, med_type=mt2, begin=at(second_begin),
                       end=at(second_begin + 4))

    quick = stays("P1", 5, 8)  # 3 days after discharge
    mid = stays("P2", 5, 15)  # 10 days after
    stays("P3", 5, 35)  # a readmission after 30 days: fine
    stays("P4", 5, 8, fac2="F2")  # another facility: a referral, not judged here
    stays("P5", 5, 8, mt2="11")  # an outpatient follow-up: fine
    return {"R-ZY-01": {quick}, "R-ZY-02": {mid}}


def _outside(c: RuleCase) -> Expected:
    c.visit("V1", med_type="21", begin=at(2), end=at(6))
    early, late = c.line("V1", "TREAT", time=at(0)), c.line("V1", "TREAT", time=at(9))
    c.line("V1", "TREAT", time=at(4))
    c.line("V1", "TREAT", time=at(7))  # a day after discharge: within tolerance
    c.visit("V2", psn="P2", begin=at(2))
    c.line("V2", "TREAT", time=at(9))  # outpatient: not judged
    return {"R-ZY-03": {early, late}}


def _diag(c: RuleCase) -> Expected:
    c.visit("V1", gend="1", diag="O80.0")
    c.visit("V2", gend="2", diag="O80.0", psn="P2")  # delivery, woman: fine
    c.visit("V3", gend="2", diag="N40", psn="P3")
    c.visit("V4", gend="1", diag="N40", psn="P4")  # prostate hyperplasia, man: fine
    c.visit("V5", gend="1", diag="N99.1", psn="P5")  # N99 is not sex-specific: fine
    c.visit("V6", gend="2", diag="C61", psn="P6")
    return {"R-ZD-01": {"V1", "V3", "V6"}}


def _frequent(c: RuleCase) -> Expected:
    for i in range(9):
        c.visit(f"A{i}", psn="P1", fac="F1", begin=at(i * 3))  # 9 visits in 25 days
    for i in range(8):
        c.visit(f"B{i}", psn="P2", fac="F1", begin=at(i * 3))  # 8 visits: at the limit
    for i in range(9):
        c.visit(f"C{i}", psn="P3", fac="F1", begin=at(i * 7))  # weekly for two months: fine
    for i in range(7):
        c.visit(f"D{i}", psn="P4", fac="FP", med_type="41", begin=at(i * 4))  # 7 pharmacy visits in 25 days
    for i in range(9):
        c.visit(f"E{i}", psn="P5", fac="F1", med_type="14", begin=at(i * 2))  # chronic-disease visits
    return {"R-MZ-01": {"A8"}, "R-GY-01": {"D6"}}


def _same_day(c: RuleCase) -> Expected:
    for fac in ("F1", "F2", "FP"):
        c.visit(f"A{fac}", psn="P1", fac=fac, med_type="41" if fac == "FP" else "11", begin=at(0))
    for fac in ("F1", "F2"):
        c.visit(f"B{fac}", psn="P2", fac=fac, begin=at(0))  # two facilities: fine
    for i in range(3):
        c.visit(f"C{i}", psn="P3", fac="F1", begin=at(0, 9 + i))  # three visits, one facility
    c.visit("D1", psn="P4", fac="F1", begin=at(0))
    c.visit("D2", psn="P4", fac="F2", begin=at(1))
    c.visit("D3", psn="P4", fac="F3", begin=at(2))  # three facilities on three days
    return {"R-MZ-02": {"AF1", "AF2", "AFP"}}


def _mild(c: RuleCase) -> Expected:
    c.visit("V1", med_type="21", diag="J06.9", begin=at(0), end=at(2))
    c.visit("V2", med_type="21", diag="J06.9", begin=at(0), end=at(10), psn="P2")  # long stay
    c.visit("V3", med_type="21", diag="I21.0", begin=at(0), end=at(2), psn="P3")  # heart attack
    c.visit("V4", med_type="11", diag="J06.9", psn="P4")  # outpatient cold: fine
    return {"R-RY-01": {"V1"}}


def _supply(c: RuleCase) -> Expected:
    c.visit("V1")
    c.line("V1", "DRUG", cnt=3)  # a 30-day chronic prescription: at the limit
    c.visit("V2", psn="P2")
    big = c.line("V2", "DRUG", cnt=6)  # 60 days
    c.visit("V3", psn="P3")
    split = {c.line("V3", "DRUG", cnt=2), c.line("V3", "DRUG", cnt=2, time=at(0, 10))}  # 40 days in two
    return {"R-KY-01": {big} | split}


def _trace(c: RuleCase) -> Expected:
    c.visit("V1", fac="FP", med_type="41", begin=at(0))
    c.line("V1", "DRUG", trace="T001")
    c.line("V1", "DRUG", trace="T002")
    c.visit("V2", fac="FX", psn="P2", begin=at(5))
    again = c.line("V2", "DRUG", trace="T001")  # the same box settled a second time
    c.line("V2", "DRUG", trace="T003")
    return {"R-ZS-01": {again}}


def _idle(c: RuleCase) -> Expected:
    c.visit("V1", med_type="21", begin=at(0), end=at(10))
    c.visit("V2", med_type="21", begin=at(20), end=at(30), psn="P2")
    for d in range(10):
        c.line("V1", "BED", time=at(d))
        c.line("V2", "BED", time=at(20 + d))
        c.line("V2", "TREAT", time=at(20 + d, 10))  # treated every day: fine
    c.line("V1", "TREAT", time=at(0, 10))
    c.line("V1", "TREAT", time=at(1, 10))  # V1: 8 of 10 days with a bed and nothing else
    return {"R-GC-01": {"V1"}}


CASES: dict[str, Callable[[RuleCase], Expected]] = {
    "gender_restricted": _gender,
    "age_restricted": _age,
    "frequency_per_period": _frequency,
    "daily_quantity": _daily,
    "package_repeat": _package_repeat,
    "split_charge": _split,
    "duplicate_line": _duplicate,
    "price_cap": _price,
    "facility_level": _level,
    "readmission": _readmission,
    "billing_outside_stay": _outside,
    "diagnosis_gender": _diag,
    "frequent_visits": _frequent,
    "same_day_facilities": _same_day,
    "mild_admission": _mild,
    "days_supply": _supply,
    "trace_duplicate": _trace,
    "no_treatment_days": _idle,
}


def run_kind(kind: str) -> tuple[list[dict], Expected]:
    case = RuleCase()
    expected = CASES[kind](case)
    rules = [r for r in RULES if r.kind == kind]
    table = evaluate_rules(case.connect(), rules)
    assert tuple(table.column_names) == EVIDENCE_COLUMNS
    return table.to_pylist(), expected


@pytest.mark.parametrize("kind", sorted(CASES))
def test_kind_fires_on_violation_and_is_silent_on_look_alike(kind: str) -> None:
    rows, expected = run_kind(kind)
    got: Expected = {r.id: set() for r in RULES if r.kind == kind}
    for row in rows:
        key = row["feedetl_sn"] if row["hit_level"] == "fee_line" else row["mdtrt_id"]
        got[row["rule_id"]].add(key)
    assert got == {rid: expected.get(rid, set()) for rid in got}
    for rid, ids in got.items():
        assert ids, f"{rid} has no firing case"


@pytest.mark.parametrize("kind", sorted(CASES))
def test_hits_carry_evidence_and_a_readable_reason(kind: str) -> None:
    rows, _ = run_kind(kind)
    for row in rows:
        assert row["hit_level"] in ("fee_line", "visit")
        assert (row["feedetl_sn"] is None) == (row["hit_level"] == "visit")
        assert row["fixmedins_code"] and row["mdtrt_id"] and row["psn_no"] and row["dr_code"]
        assert row["event_time"] is not None and row["amount_at_risk"] >= 0
        detail = json.loads(row["detail"])
        assert detail and all(v is not None for v in detail.values()), row["detail"]
        reason = row["reason"]
        assert "{" not in reason and "}" not in reason and "—" not in reason, reason
        assert "骗保" not in reason and "欺诈" not in reason, reason


def test_reasons_show_a_short_pseudonym_and_evidence_keeps_the_whole() -> None:
    pseudonym = "71a6debf11cd4988cfa1b36203578d2748b0bd632a1fac0f606a826ceaa25c30"
    case = RuleCase()
    case.visit("V1", gend="2", psn=pseudonym)
    case.line("V1", "PSA")
    rows = evaluate_rules(case.connect(), [r for r in RULES if r.kind == "gender_restricted"]).to_pylist()
    assert [r["psn_no"] for r in rows] == [pseudonym]
    assert rows[0]["reason"].startswith("参保人71a6debf…（性别女）"), rows[0]["reason"]
    assert pseudonym not in rows[0]["reason"]


def test_amount_at_risk_is_what_the_rule_puts_at_risk() -> None:
    by_rule = {r["rule_id"]: r for r in run_kind("price_cap")[0]}
    assert by_rule["R-JG-01"]["amount_at_risk"] == pytest.approx(20.0)  # (120 − 100) × 1
    split = run_kind("split_charge")[0]
    # components 3 × 40 = 120 against a package price of 80: 40 over, a third per line
    assert sum(r["amount_at_risk"] for r in split) == pytest.approx(40.0)
    daily = run_kind("daily_quantity")[0]
    assert [r["amount_at_risk"] for r in daily] == [pytest.approx(50.0)]
    readmit = [r for r in run_kind("readmission")[0] if r["rule_id"] == "R-ZY-01"]
    assert readmit[0]["amount_at_risk"] == pytest.approx(100.0)  # the visit's fund payment


def test_disabled_rules_do_not_run() -> None:
    from dataclasses import replace

    case = RuleCase()
    _price(case)
    rules = [replace(r, enabled=False) for r in RULES if r.kind == "price_cap"]
    assert evaluate_rules(case.connect(), rules).num_rows == 0
