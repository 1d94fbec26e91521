"""Rounds as records: saved once, superseded never edited; pick probabilities; findings on a round's pick."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from feijian.errors import InputError, NotFoundError
from records import get_pick, get_round, list_rounds, open_records, read_findings, read_picks
from serving.findings import FindingIn, record
from serving.plan import PROBABILITY_DRAWS, plan_round
from serving.rounds import save_plan
from serving.schemas import PlanRequest
from tests.test_plan import AS_OF, inspections, scored

SNAPSHOT = {"snapshot_id": "2025-01-01_w12_test", "window_start": "2024-01-01", "as_of": AS_OF.isoformat()}


@pytest.fixture
def db(tmp_path: Path):
    d = open_records(tmp_path, f"sqlite:///{tmp_path / 'records.db'}")
    yield d
    d.dispose()


def _plan(req: PlanRequest):
    return plan_round(scored(), inspections(), AS_OF, req.capacity, **req.plan_kwargs())


def test_a_saved_round_keeps_every_pick_and_can_only_be_superseded(db) -> None:
    req = PlanRequest(capacity=10, exploration_share=0.3, seed=4)
    plan = _plan(req)
    first = save_plan(db, plan, req, SNAPSHOT, "规划员甲")
    r = get_round(db, first)
    assert first == "R20250101-1" and r["status"] == "in_force" and r["saved_by"] == "规划员甲"
    assert r["period_begn"] == date(2024, 1, 1) and r["period_end"] == date(2024, 12, 31)
    assert [p["fixmedins_code"] for p in r["picks"]] == plan.targets["fixmedins_code"].tolist()
    assert [p["pick"] for p in r["picks"]] == ["model"] * 7 + ["exploration"] * 3
    assert r["picks"][0]["reasons"] == ["理由"] and r["request"]["seed"] == 4
    assert all(p["probability"] == 1.0 for p in r["picks"][:7])

    second = save_plan(db, _plan(PlanRequest(capacity=8)), PlanRequest(capacity=8), SNAPSHOT, "规划员乙",
                       note="名额调整", supersedes=first)  # fmt: skip
    assert second == "R20250101-2"
    assert get_round(db, first)["superseded_by"] == second and get_round(db, first)["status"] == "superseded"
    assert [x["round_id"] for x in list_rounds(db)] == [second, first]
    with pytest.raises(InputError, match=f"already superseded by {second}"):
        save_plan(db, plan, req, SNAPSHOT, "规划员丙", supersedes=first)
    with pytest.raises(NotFoundError, match="does not exist"):
        save_plan(db, plan, req, SNAPSHOT, "规划员丙", supersedes="R19990101-1")
    picks = read_picks(db)
    assert len(picks) == 18 and picks.loc[picks["round_id"] == first, "superseded"].all()


def test_exploration_probability_is_exact_without_binding_caps() -> None:
    plan = _plan(PlanRequest(capacity=10, exploration_share=0.3, seed=1))
    n_rest = plan.meta["n_eligible"] - 7  # eligible facilities the model did not pick
    explore = plan.targets[plan.targets["pick"] == "exploration"]
    assert np.allclose(explore["pick_probability"], 3 / n_rest)
    assert plan.meta["pick_probability"]["exploration"] == "exact"


def test_exploration_probability_under_a_binding_cap_matches_the_draw(monkeypatch: pytest.MonkeyPatch) -> None:
    """With region 330102 capped, its facilities are drawn less often than the others: the estimate
    must agree with the frequency over many seeds of the planner itself."""
    req = dict(capacity=12, exploration_share=0.5, region_caps={"330102": 2})
    plan = plan_round(scored(), inspections(), AS_OF, 12, **{**PlanRequest(**req).plan_kwargs(), "seed": 0})
    assert plan.meta["pick_probability"]["exploration"] == f"estimated ({PROBABILITY_DRAWS} draws)"
    again = plan_round(scored(), inspections(), AS_OF, 12, **{**PlanRequest(**req).plan_kwargs(), "seed": 0})
    assert plan.targets["pick_probability"].tolist() == again.targets["pick_probability"].tolist()  # seeded
    counts: dict[str, int] = {}
    n = 1500
    # the frequency needs only the picks: the replays that estimate probabilities draw from a stream of
    # their own ([seed, 1]), so cutting them changes no pick
    monkeypatch.setattr("serving.plan.PROBABILITY_DRAWS", 1)
    for seed in range(n):
        t = plan_round(scored(), inspections(), AS_OF, 12, **{**PlanRequest(**req).plan_kwargs(), "seed": seed}).targets
        for c in t.loc[t["pick"] == "exploration", "fixmedins_code"]:
            counts[c] = counts.get(c, 0) + 1
    explore = plan.targets[plan.targets["pick"] == "exploration"]
    for code, p in zip(explore["fixmedins_code"], explore["pick_probability"], strict=True):
        assert abs(counts.get(code, 0) / n - p) < 0.05, (code, counts.get(code, 0) / n, p)
    by_region = explore.groupby("admdvs")["pick_probability"].mean()
    if {"330101", "330102"} <= set(by_region.index):
        assert by_region["330102"] < by_region["330101"]


def test_a_finding_on_a_pick_takes_facility_period_and_selection_from_it(db) -> None:
    req = PlanRequest(capacity=6, exploration_share=0.5, seed=2)
    round_id = save_plan(db, _plan(req), req, SNAPSHOT, "规划员甲")
    model, explored = get_pick(db, round_id, 1), get_pick(db, round_id, 6)
    assert model["selection"] == "targeted" and explored["selection"] == "random"
    f = FindingIn(insp_id="R-F1", round_id=round_id, rank=6, insp_date="2025-02-10", amount_recovered=1200.0)
    assert record(db, f, "检查员甲")
    insp, _, links = read_findings(db)
    row = insp.set_index("insp_id").loc["R-F1"]
    assert row["fixmedins_code"] == explored["fixmedins_code"] and row["selection"] == "random"
    assert row["batch"] == round_id and row["period_begn"] == date(2024, 1, 1)
    assert links.set_index("insp_id").loc["R-F1", "rank"] == 6
    with pytest.raises(InputError, match="the pick says"):
        record(db, FindingIn(insp_id="R-F2", round_id=round_id, rank=1, fixmedins_code="F999",
                             insp_date="2025-02-10"), "检查员甲")  # fmt: skip
    with pytest.raises(NotFoundError):
        record(db, FindingIn(insp_id="R-F3", round_id=round_id, rank=99, insp_date="2025-02-10"), "检查员甲")
    # re-recorded as an outside inspection: the link to the pick goes
    outside = FindingIn(insp_id="R-F1", fixmedins_code="F010", batch="外部", insp_date="2025-02-10",
                        period_begn="2024-06-01", period_end="2024-12-31", selection="tip_off")  # fmt: skip
    record(db, outside, "检查员甲")
    assert read_findings(db)[2].empty


def test_an_outside_inspection_must_say_what_a_pick_would() -> None:
    with pytest.raises(ValueError, match="fixmedins_code"):
        FindingIn(insp_id="X1", insp_date="2025-02-10", batch="B", period_begn="2024-01-01",
                  period_end="2024-12-31", selection="random")  # fmt: skip
    with pytest.raises(ValueError, match="round_id 与 rank"):
        FindingIn(insp_id="X1", round_id="R20250101-1", insp_date="2025-02-10")


def test_read_picks_is_empty_with_no_rounds(db) -> None:
    assert read_picks(db).empty and isinstance(read_picks(db), pd.DataFrame)
