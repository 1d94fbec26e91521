"""Collusion rings (features/rings): a hand-built province with one ring of shared cards and two
honest look-alikes (a household sharing a clinic and a pharmacy, a hospital's chronic-care patients
filling at the pharmacy next door), point-in-time, and rings as joint inspections in a plan."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from features.snapshot import build_snapshot
from serving.plan import plan_round
from tests.builders import Province

AS_OF = date(2025, 1, 1)
RING = ["C1", "C2", "P1"]


def _province(ring_start: date = date(2024, 3, 1)) -> Province:
    p = Province()
    for code, ftype, lv, beds in [("C1", "clinic", "10", 0), ("C2", "clinic", "10", 0), ("P1", "pharmacy", "10", 0),
                                  ("C3", "clinic", "10", 0), ("P2", "pharmacy", "10", 0),
                                  ("H1", "general", "05", 200), ("P3", "pharmacy", "10", 0),
                                  ("C4", "clinic", "10", 0)]:
        p.facility(code, ftype=ftype, lv=lv, beds=beds, ownership="private" if ftype != "general" else "public")
        p.physician(f"D{code}", code)
    p.physician("DC1B", "C1")
    # the ring: 15 recruited cards taken to both clinics and the pharmacy on the same day, twice a month
    cards = [f"R{i:02d}" for i in range(15)]
    month = ring_start
    while month < date(2025, 3, 1):
        for day in (5, 19):
            d = datetime(month.year, month.month, day, 9)
            for k, card in enumerate(cards[: 12 if day == 5 else 15]):
                p.visit(card, "C1", "DC1", d + timedelta(minutes=5 * k), dx="I10", lines=[("TRT_IV", 4, 20.0)])
                p.visit(card, "C2", "DC2", d + timedelta(hours=2, minutes=5 * k), dx="I10",
                        lines=[("TRT_IV", 4, 20.0)])
                p.visit(card, "P1", "DP1", d + timedelta(hours=4, minutes=5 * k), dx="I10",
                        lines=[("DRG_MET", 90, 2.0)])
        month = (month.replace(day=28) + timedelta(days=5)).replace(day=1)
    # honest: a household of five at their clinic and pharmacy, together once a month
    family = [f"F{i}" for i in range(5)]
    # honest: thirty diabetics of the hospital, a weekly follow-up then the pharmacy next door
    patients = [f"Q{i:02d}" for i in range(30)]
    day = datetime(2024, 1, 2, 8)
    while day < datetime(2025, 1, 1):
        if day.day <= 7:
            for k, person in enumerate(family):
                p.visit(person, "C3", "DC3", day + timedelta(minutes=10 * k), dx="J06.9")
                p.visit(person, "P2", "DP2", day + timedelta(hours=1, minutes=10 * k), dx="J06.9",
                        lines=[("DRG_AMOX", 14, 1.5)])
        for k, person in enumerate(patients[(day.isocalendar().week % 3) * 10:][:10]):
            p.visit(person, "H1", "DH1", day + timedelta(minutes=10 * k), dx="E11.9", lines=[("LAB_HBA1C", 1, 40.0)])
            p.visit(person, "P3", "DP3", day + timedelta(hours=3, minutes=10 * k), dx="E11.9",
                    lines=[("DRG_MET", 30, 2.0)])
        for k in range(3):  # the rest of the province: one-off visits
            p.visit(f"X{day:%j}{k}", "C4", "DC4", day + timedelta(minutes=k), dx="J06.9")
        day += timedelta(days=7)
    return p


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    ws = _province().write(tmp_path_factory.mktemp("rings") / "ws")
    snap = build_snapshot(ws, AS_OF)
    return ws, snap


def test_the_ring_is_found_with_its_members_and_the_look_alikes_are_not(built: tuple) -> None:
    _, snap = built
    rings = pd.read_parquet(snap.path / "rings.parquet")
    assert rings["facilities"].tolist() == [";".join(RING)]
    ring = rings.iloc[0]
    assert ring["n_persons"] == 15 and ring["n_facilities"] == 3 and ring["density"] == 1.0
    assert ring["physicians"] == "DC1;DC2;DP1"  # DC1B, who billed none of the shared cards, is no member
    assert ring["burst_days"] > 0 and 0.99 < ring["inside_share"] <= 1.0
    members = pd.read_parquet(snap.path / "ring_members.parquet")
    assert set(members.loc[members["kind"] == "facility", "code"]) == set(RING)
    evidence = pd.read_parquet(snap.path / "ring_evidence.parquet")
    assert set(evidence["fixmedins_code"]) == set(RING) and evidence["psn_no"].nunique() == 15
    fac = snap.facility.set_index("fixmedins_code")
    assert (fac.loc[RING, "ring_facilities"] == 3).all()
    assert (fac.loc[["C3", "P2", "H1", "P3", "C4"], "ring_facilities"] == 0).all()
    assert snap.path.joinpath("meta.json").read_text(encoding="utf-8").count('"rings": 1') == 1


def test_a_ring_formed_after_as_of_is_not_seen(tmp_path) -> None:
    ws = _province(ring_start=date(2025, 1, 5)).write(tmp_path / "ws")
    snap = build_snapshot(ws, AS_OF)
    assert pd.read_parquet(snap.path / "rings.parquet").empty
    assert (snap.facility["ring_facilities"] == 0).all()
    later = build_snapshot(ws, date(2025, 3, 1))  # two trips in January and two in February
    assert pd.read_parquet(later.path / "rings.parquet")["facilities"].tolist() == [";".join(RING)]


def _scored(values: dict[str, float]) -> pd.DataFrame:
    codes = list(values)
    return pd.DataFrame({"fixmedins_code": codes, "expected_recovery": [values[c] for c in codes],
                         "p_serious": np.linspace(0.9, 0.1, len(codes)), "admdvs": "990101"})


def test_a_ring_is_one_joint_inspection_counted_per_facility() -> None:
    scored = _scored({"A": 100.0, "X": 90.0, "Y": 80.0, "B": 20.0, "C": 10.0, "Z": 70.0})
    # inspected with its ring, each member is worth the ring's score × its amount if serious
    ring = [("RG-00000001", {"A": 100.0, "B": 98.0, "C": 85.0})]
    alone = plan_round(scored, pd.DataFrame(), AS_OF, 4, exploration_share=0.0)
    assert alone.targets["fixmedins_code"].tolist() == ["A", "X", "Y", "Z"]
    # without joint inspections a ring only marks its members the plan takes on their own merits
    marked = plan_round(scored, pd.DataFrame(), AS_OF, 4, exploration_share=0.0, rings=ring)
    assert marked.targets["fixmedins_code"].tolist() == ["A", "X", "Y", "Z"]
    assert [r["ring_id"] for r in marked.records()] == ["RG-00000001", None, None, None]
    assert marked.meta["rings"] == [{"ring_id": "RG-00000001", "facilities": ["A"], "not_planned": ["B", "C"],
                                     "joint": False, "expected_recovery": 100.0}]
    joint = plan_round(scored, pd.DataFrame(), AS_OF, 4, exploration_share=0.0, rings=ring, joint_rings=True)
    t = joint.targets
    assert t["fixmedins_code"].tolist() == ["A", "B", "C", "X"]  # the ring whole, then the best alone
    assert [r["ring_id"] for r in joint.records()] == ["RG-00000001"] * 3 + [None]
    assert joint.meta["rings"] == [{"ring_id": "RG-00000001", "facilities": ["A", "B", "C"], "not_planned": [],
                                    "joint": True, "expected_recovery": 283.0}]
    # no room for the whole ring: its members are planned on their own merits
    small = plan_round(scored, pd.DataFrame(), AS_OF, 2, exploration_share=0.0, rings=ring, joint_rings=True)
    assert small.targets["fixmedins_code"].tolist() == ["A", "X"] and not small.meta["rings"][0]["joint"]
