"""Round planning: capacity, filters, exclusions, region caps, exploration, determinism, validation."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from feijian.errors import InputError
from serving.plan import MAX_CAPACITY, frame_records, plan_round

AS_OF = date(2025, 1, 1)


def scored(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "fixmedins_code": [f"F{i:03d}" for i in range(n)],
            "fixmedins_name": [f"机构{i}" for i in range(n)],
            "admdvs": ["330101" if i % 3 else "330102" for i in range(n)],
            "fixmedins_type": ["general" if i % 2 else "primary" for i in range(n)],
            "hosp_lv": ["05" if i % 2 else "08" for i in range(n)],
            "ownership": ["public" if i % 4 else "private" for i in range(n)],
            "p_serious": rng.uniform(0, 1, n),
            "expected_recovery": np.linspace(100_000, 1_000, n),  # F000 is the most valuable
            "top_reasons": [["理由"] for _ in range(n)],
        }
    )


def inspections() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "fixmedins_code": ["F000", "F001", "F002", "F003"],
            "insp_date": [
                AS_OF - timedelta(days=30),
                AS_OF - timedelta(days=300),
                AS_OF - timedelta(days=300),
                AS_OF + timedelta(days=5),
            ],
            "amount_recovered": [50_000.0, 0.0, 20_000.0, 0.0],
        }
    )


def test_capacity_ranking_and_exclusions() -> None:
    plan = plan_round(scored(), inspections(), AS_OF, 10, exploration_share=0.0)
    t = plan.targets
    assert len(t) == 10 and list(t["rank"]) == list(range(1, 11))
    assert "F000" not in set(t["fixmedins_code"])  # inspected 30 days ago
    assert "F001" not in set(t["fixmedins_code"])  # clean finding within the cool-down
    assert {"F002", "F003"} <= set(t["fixmedins_code"])  # found money long ago / visit after as_of
    assert t["expected_recovery"].is_monotonic_decreasing and (t["pick"] == "model").all()
    assert plan.meta["exclusions"]["recently_inspected"] == 1
    assert plan.meta["exclusions"]["clean_cooldown"] == 1
    assert plan.meta["expected_total"] == pytest.approx(t["expected_recovery"].sum())


def test_exploration_is_marked_seeded_and_drawn_from_the_eligible_rest() -> None:
    a = plan_round(scored(), inspections(), AS_OF, 20, exploration_share=0.25, seed=3)
    b = plan_round(scored(), inspections(), AS_OF, 20, exploration_share=0.25, seed=3)
    c = plan_round(scored(), inspections(), AS_OF, 20, exploration_share=0.25, seed=4)
    pd.testing.assert_frame_equal(a.targets, b.targets)
    assert a.meta == b.meta
    explore = a.targets[a.targets["pick"] == "exploration"]
    assert len(explore) == 5 and a.meta["exploration"]["n"] == 5
    model = a.targets[a.targets["pick"] == "model"]
    assert len(model) == 15
    assert list(a.targets["pick"]) == ["model"] * 15 + ["exploration"] * 5
    assert not set(explore["fixmedins_code"]) & {"F000", "F001"}
    assert set(c.targets["fixmedins_code"]) != set(a.targets["fixmedins_code"])


def test_filters_and_region_caps() -> None:
    plan = plan_round(scored(), inspections(), AS_OF, 12, types=["general"], region_caps={"330102": 2}, seed=1)
    t = plan.targets
    assert (t["fixmedins_type"] == "general").all()
    assert (t["admdvs"] == "330102").sum() <= 2
    assert plan.meta["exclusions"]["filtered"] == 30
    assert plan.meta["exclusions"]["region_cap"] > 0
    only = plan_round(scored(), inspections(), AS_OF, 5, regions=["330102"], ownership=["private"])
    assert set(only.targets["admdvs"]) == {"330102"} and set(only.targets["ownership"]) == {"private"}


def test_fewer_eligible_than_capacity() -> None:
    plan = plan_round(scored(8), inspections(), AS_OF, 30)
    assert len(plan.targets) == 6 and plan.meta["n_eligible"] == 6


def test_physician_level_ranks_by_exposure_not_by_the_points_probability() -> None:
    docs = pd.DataFrame(
        {"dr_code": ["D1", "D2", "D3", "D4"], "fixmedins_code": ["F000", "F005", "F006", "F007"], "dept": "内科",
         "admdvs": "330101", "p_risk": [0.9, 0.5, 0.7, 0.01], "dr_exposure": [9e5, 2e4, 1e4, 5e4],
         "top_reasons": [[], [], [], []]}
    )  # fmt: skip
    t = plan_round(docs, inspections(), AS_OF, 5, level="physician", exploration_share=0.0).targets
    assert list(t["dr_code"]) == ["D4", "D2", "D3"]  # D1's facility was inspected 30 days ago


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"capacity": 0}, "between 1 and"),
        ({"capacity": MAX_CAPACITY + 1}, "between 1 and"),
        ({"capacity": 2.5}, "whole number"),
        ({"capacity": 5, "exploration_share": 0.9}, "exploration_share"),
        ({"capacity": 5, "regions": ["999999"]}, "unknown regions"),
        ({"capacity": 5, "level": "county"}, "level must be"),
        ({"capacity": 5, "region_caps": {"330101": -1}}, "region caps"),
    ],
)
def test_bad_inputs_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        plan_round(scored(), inspections(), AS_OF, **kwargs)


def test_precomputed_exclusions_give_the_same_plan() -> None:
    """The service passes the exclusion sets it keeps per findings change; the plan must not differ."""
    from serving.plan import exclusion_sets

    sets = exclusion_sets(inspections(), AS_OF, 180, 365)
    a = plan_round(scored(), inspections(), AS_OF, 10, exploration_share=0.2, seed=2)
    b = plan_round(scored(), pd.DataFrame(), AS_OF, 10, exploration_share=0.2, seed=2, excluded=sets)
    pd.testing.assert_frame_equal(a.targets, b.targets)
    assert a.meta == b.meta


@pytest.mark.parametrize("level", ["facility", "physician"])
def test_records_are_the_targets_as_json(level: str) -> None:
    """The API answers with `records()`, reports read `targets`: the same picks, values and columns."""
    table = scored()
    if level == "physician":
        table = table.assign(dr_code=[f"D{i:03d}" for i in range(len(table))], dept="内科", p_risk=table["p_serious"],
                             dr_exposure=table["expected_recovery"])
    plan = plan_round(table, inspections(), AS_OF, 12, exploration_share=0.25, seed=5, level=level,
                      region_caps={"330102": 3})  # fmt: skip
    frame = frame_records(plan.targets)
    assert plan.records() == frame and list(frame[0]) == list(plan.targets.columns)
    assert [r["pick"] for r in frame].count("exploration") == 3


def sanctioned_history() -> pd.DataFrame:
    """F002 terminated 300 days ago; F004 suspended at its latest visit; F005 suspended, then cleared at a
    later visit; F006 terminated only after the planning date (not known when planning)."""
    day = lambda n: AS_OF - timedelta(days=n)  # noqa: E731
    return pd.DataFrame({
        "fixmedins_code": ["F002", "F004", "F005", "F005", "F006"],
        "insp_date": [day(300), day(400), day(700), day(400), AS_OF + timedelta(days=3)],
        "amount_recovered": [20_000.0, 5_000.0, 9_000.0, 1_000.0, 8_000.0],
        "agreement_action": ["terminate", "suspend", "suspend", "warning", "terminate"],
    })  # fmt: skip


def test_sanctions_exclude_or_flag_by_the_declared_policy_and_only_as_known_when_planning() -> None:
    plan = plan_round(scored(), sanctioned_history(), AS_OF, 10, exploration_share=0.0)
    t = plan.targets.set_index("fixmedins_code")
    assert "F002" not in t.index and plan.meta["exclusions"]["sanctioned"] == 1  # terminated: excluded
    assert t.loc["F004", "flag"] == "已暂停医保服务协议"  # suspended: planned, flagged
    assert t["flag"].drop(index="F004").isna().all()  # F005's suspension was lifted; F006's is in the future
    assert plan.meta["sanctions"] == {"terminate": "exclude", "suspend": "flag"} and plan.meta["n_flagged"] == 1
    assert plan.meta["exclusions_zh"]["已被解除或暂停医保服务协议（按计划规则排除）"] == 1
    assert plan.meta["ranking_zh"].startswith("按预计追回金额排序")

    strict = plan_round(scored(), sanctioned_history(), AS_OF, 10, exploration_share=0.0,
                        sanctions={"suspend": "exclude"})  # fmt: skip
    assert {"F002", "F004"}.isdisjoint(strict.targets["fixmedins_code"])
    assert strict.meta["exclusions"]["sanctioned"] == 2
    lenient = plan_round(scored(), sanctioned_history(), AS_OF, 10, exploration_share=0.0,
                         sanctions={"terminate": "flag"})  # fmt: skip
    lt = lenient.targets.set_index("fixmedins_code")
    assert lt.loc["F002", "flag"] == "已解除医保服务协议" and lenient.meta["exclusions"]["sanctioned"] == 0
    assert [r["flag"] for r in lenient.records()] == [f if isinstance(f, str) else None for f in lt["flag"]]
    with pytest.raises(InputError, match="sanctions must map"):
        plan_round(scored(), sanctioned_history(), AS_OF, 10, sanctions={"suspend": "ignore"})


def test_ties_in_expected_recovery_are_broken_by_risk_not_by_code() -> None:
    table = scored(6).assign(expected_recovery=1_000.0, p_serious=[0.1, 0.5, 0.3, 0.9, 0.2, 0.4])
    t = plan_round(table, pd.DataFrame(), AS_OF, 6, exploration_share=0.0).targets
    assert list(t["fixmedins_code"]) == ["F003", "F001", "F005", "F002", "F004", "F000"]
