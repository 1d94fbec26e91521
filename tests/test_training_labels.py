"""Labels from findings (a hand-built workspace) and the fold guards that keep backtests honest."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from feijian.errors import ConfigError, InputError, NotReadyError
from training.dataset import Round, check_fold, known_before
from training.labels import LabelConfig, check_round, facility_labels, physician_labels, round_dates


def _write(root: Path, table: str, frame: pd.DataFrame) -> None:
    out = root / "raw" / table
    out.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out / "part-0.parquet", index=False)


def _inspection(iid: str, code: str, recovered: float, **kw: object) -> dict:
    row = {
        "insp_id": iid,
        "fixmedins_code": code,
        "batch": "2024Q1",
        "insp_date": date(2024, 1, 20),
        "period_begn": date(2023, 1, 1),
        "period_end": date(2023, 12, 31),
        "selection": "random",
        "insp_type": "routine",
        "violation_types": None,
        "amount_involved": recovered,
        "amount_recovered": recovered,
        "fine_amount": 0.0,
        "agreement_action": "none",
        "referral": False,
    }
    row.update(kw)
    return row


@pytest.fixture()
def findings_ws(tmp_path: Path) -> Path:
    """Five inspected facilities, each with 100,000 yuan of fund payout in the checked year."""
    setl = pd.DataFrame(
        {
            "setl_id": [f"S{i}" for i in range(6)],
            "fixmedins_code": ["A", "B", "C", "D", "E", "A"],
            "setl_time": pd.to_datetime(["2023-03-01"] * 5 + ["2024-02-01"]),  # A's 2024 line is outside the period
            "fund_pay_sumamt": [100_000.0] * 5 + [900_000.0],
        }
    )
    _write(tmp_path, "setl_d", setl)
    insp = pd.DataFrame(
        [
            _inspection("I1", "A", 1_000.0),  # 1 % of payout: serious by share
            _inspection("I2", "B", 100.0),  # 0.1 %: minor
            _inspection("I3", "C", 100.0, agreement_action="suspend"),  # fraud-level action
            _inspection("I4", "D", 100.0, fine_amount=300.0),  # 3x fine: Art. 40
            _inspection("I5", "E", 0.0, referral=True),
        ]
    )
    _write(tmp_path, "inspections", insp)
    _write(
        tmp_path,
        "dr_info",
        pd.DataFrame(
            {"dr_code": ["DA1", "DA2", "DZ"], "fixmedins_code": ["A", "A", "Z"], "begndate": [date(2020, 1, 1)] * 3}
        ),
    )
    _write(tmp_path, "insp_dr_points", pd.DataFrame({"insp_id": ["I1"], "dr_code": ["DA1"], "points": [6]}))
    return tmp_path


def test_serious_follows_share_action_fine_and_referral(findings_ws: Path) -> None:
    lab = facility_labels(findings_ws).set_index("fixmedins_code")
    assert lab.loc["A", "fund_pay_checked"] == pytest.approx(100_000.0)  # only the checked period counts
    assert lab.loc["A", "recovered_share"] == pytest.approx(0.01)
    assert lab["serious"].to_dict() == {"A": 1, "B": 0, "C": 1, "D": 1, "E": 1}
    assert lab.loc["A", "serious_why"] == "amount"
    assert lab.loc["C", "serious_why"] == "action"
    assert lab.loc["D", "serious_why"] == "fine"
    assert (lab["as_of"] == date(2024, 1, 1)).all()  # planning date: month start of the batch's first visit


def test_label_definition_is_configuration(findings_ws: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    cfg_file = tmp_path_factory.mktemp("cfg") / "labels.toml"
    cfg_file.write_text("[labels]\nmin_recovered_share = 0.02\nreferral_is_serious = false\n", encoding="utf-8")
    lab = facility_labels(findings_ws, LabelConfig.load(cfg_file)).set_index("fixmedins_code")
    assert lab.loc["A", "serious"] == 0 and lab.loc["E", "serious"] == 0
    cfg_file.write_text("[labels]\nmin_recovered_sharee = 0.02\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="min_recovered_sharee"):
        LabelConfig.load(cfg_file)


def test_physicians_of_inspected_facilities_only(findings_ws: Path) -> None:
    fac = facility_labels(findings_ws)
    dr = physician_labels(findings_ws, fac).set_index("dr_code")
    assert set(dr.index) == {"DA1", "DA2"}  # DZ works where nobody inspected: unlabelled, not negative
    assert dr.loc["DA1", "serious"] == 1 and dr.loc["DA2", "serious"] == 0


def test_no_findings_is_not_ready(tmp_path: Path) -> None:
    with pytest.raises(NotReadyError, match="inspection"):
        facility_labels(tmp_path)


def test_a_visit_on_or_before_its_planning_date_is_refused() -> None:
    lab = pd.DataFrame({"insp_id": ["X"], "insp_date": [date(2024, 1, 1)]})
    with pytest.raises(InputError, match="not after"):
        check_round(lab, date(2024, 1, 1))
    dates = round_dates(pd.DataFrame({"batch": ["b", "b"], "insp_date": [date(2024, 2, 9), date(2024, 1, 15)]}))
    assert dates["as_of"].tolist() == [date(2024, 1, 1)]


def _round(batch: str, as_of: date, snapshot: Path) -> Round:
    empty = pd.DataFrame()
    return Round(batch, as_of, snapshot, empty, empty, empty, empty)


def test_fold_guard_rejects_rows_from_the_label_period(tmp_path: Path) -> None:
    snap = tmp_path / "snap"
    snap.mkdir()
    (snap / "meta.json").write_text('{"as_of": "2024-04-01"}', encoding="utf-8")
    test = _round("2024Q2", date(2024, 4, 1), snap)
    rows = pd.DataFrame(
        {
            "insp_id": ["old", "late"],
            "batch": ["2024Q1", "2024Q1"],
            "as_of": [date(2024, 1, 1), date(2024, 1, 1)],
            "insp_date": [date(2024, 2, 1), date(2024, 4, 15)],  # 'late' was visited after the test round's plan
        }
    )
    with pytest.raises(InputError, match="late"):
        check_fold(rows, test)
    check_fold(known_before(rows, test.as_of), test)  # what the backtest uses passes
    (snap / "meta.json").write_text('{"as_of": "2024-05-01"}', encoding="utf-8")  # features from after the plan
    with pytest.raises(InputError, match="after"):
        check_fold(known_before(rows, test.as_of), test)


def test_recorded_findings_join_the_ingested_ones_and_a_saved_round_gives_its_date(findings_ws: Path) -> None:
    """A finding recorded on a saved round's pick is labelled with that round's planning date and its
    pick probability; a recorded insp_id replaces the ingested one; points follow the recorded finding."""
    from records import open_records, save_round
    from serving.findings import FindingIn, PhysicianPoints, record

    url = f"sqlite:///{findings_ws / 'records.db'}"
    db = open_records(findings_ws, url)
    head = {"level": "facility", "as_of": date(2024, 4, 1), "period_begn": date(2023, 4, 1),
            "period_end": date(2024, 3, 31), "snapshot_id": "s", "model_version": "1", "capacity": 2,
            "request": "{}", "expected_total": None, "supersedes": None, "note": None}  # fmt: skip
    picks = [{"rank": 1, "fixmedins_code": "A", "pick": "model", "probability": 1.0, "reasons": "[]"},
             {"rank": 2, "fixmedins_code": "B", "pick": "exploration", "probability": 0.25,
              "reasons": "[]"}]  # fmt: skip
    rid = save_round(db, head, picks, "t")
    record(db, FindingIn(insp_id="R1", round_id=rid, rank=2, insp_date=date(2024, 4, 20), amount_recovered=5000.0),
           "t")
    record(db, FindingIn(insp_id="R2", round_id=rid, rank=1, insp_date=date(2024, 4, 22), amount_recovered=0.0,
                         points=[PhysicianPoints(dr_code="DA2", points=5)]), "t")  # fmt: skip
    record(db, FindingIn(insp_id="I2", fixmedins_code="B", batch="2024Q1", insp_date=date(2024, 1, 20),
                         period_begn=date(2023, 1, 1), period_end=date(2023, 12, 31), selection="random",
                         amount_recovered=2000.0), "t")  # fmt: skip  (corrects the ingested I2)
    db.dispose()

    lab = facility_labels(findings_ws, db_url=url).set_index("insp_id")
    assert lab.attrs["findings"] == {"ingested": 4, "recorded": 3, "recorded_replacing_ingested": 1,
                                     "on_saved_rounds": 2}  # fmt: skip
    assert lab.loc["R1", "as_of"] == date(2024, 4, 1) and lab.loc["R1", "batch"] == rid
    assert lab.loc["R1", "selection"] == "random" and lab.loc["R1", "pick_probability"] == 0.25
    assert lab.loc["I2", "amount_recovered"] == 2000.0 and lab.loc["I2", "source"] == "recorded"
    assert lab.loc["I1", "as_of"] == date(2024, 1, 1) and pd.isna(lab.loc["I1", "pick_probability"])
    dr = physician_labels(findings_ws, lab.reset_index(), db_url=url)
    assert dr.set_index(["insp_id", "dr_code"]).loc[("R2", "DA2"), "points"] == 5
    assert facility_labels(findings_ws).shape[0] == 5  # without the database: the ingested findings alone


def test_a_recorded_finding_that_breaks_the_contract_is_named(findings_ws: Path) -> None:
    from records import Finding, open_records

    url = f"sqlite:///{findings_ws / 'records.db'}"
    db = open_records(findings_ws, url)
    with db.session() as s:  # written behind the service's back: recovered above involved
        s.add(Finding(insp_id="BAD1", fixmedins_code="A", batch="X", insp_date=date(2024, 2, 1),
                      period_begn=date(2023, 1, 1), period_end=date(2023, 12, 31), selection="random",
                      insp_type="routine", amount_involved=10.0, amount_recovered=500.0, fine_amount=0.0,
                      agreement_action="none", referral=False, recorded_by="x",
                      recorded_at=pd.Timestamp("2024-02-02", tz="UTC").to_pydatetime()))  # fmt: skip
        s.commit()
    db.dispose()
    with pytest.raises(InputError, match="BAD1: amount_recovered exceeds amount_involved"):
        facility_labels(findings_ws, db_url=url)


def test_ipw_uses_the_stored_pick_probabilities_of_a_saved_round() -> None:
    """A saved round's rows weigh 1/p of the probability they were drawn with (scaled to mean 1): an
    exploration pick drawn with p = 0.1 counts ten times a model pick; no propensity model is fitted."""
    from types import SimpleNamespace

    import numpy as np

    from training.backtest import ipw_for

    train = pd.DataFrame({"batch": ["R1"] * 4, "fixmedins_code": list("ABCD"),
                          "pick_probability": [1.0, 1.0, 1.0, 0.1]})  # fmt: skip
    w = ipw_for(train, [SimpleNamespace(batch="R1")], [], seed=0)  # type: ignore[list-item]
    assert np.allclose(w, np.array([1, 1, 1, 10]) / 3.25) and w[3] / w[0] == pytest.approx(10)


def test_an_evaluation_with_no_scorable_round_is_empty_not_a_crash() -> None:
    """Two rounds where the first has too few findings to train on leave no backtest fold (the campaign's
    first round at demo scale): the report says nothing rather than failing the training."""
    from training.evaluate import calibration, pooled

    assert pooled([]) == {} and pooled([], selection="random") == {} and calibration([]) == {}
