"""Cases, from a saved round's picks to closed: the lifecycle declared once, each transition made only by
the role whose right it names, what it must carry, every step in the timeline with who and when; and a
round of 30 cases walked end to end through the running service, with an appeal and an overdue
rectification, every wrong role refused."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from feijian.errors import ForbiddenError, InputError
from records import open_records, save_round
from records.cases import STATES, TRANSITIONS, get_case, list_cases, move, open_cases
from records.worklist import checked_lines, keep_lines, lines, mark, rule_quality
from serving.permissions import RIGHTS, ROLES
from tests.service_fixtures import Served, _auth, _drop_finding

DAY = date(2025, 1, 1)


def test_the_lifecycle_is_declared_once_and_every_open_state_leads_to_closed() -> None:
    assert all(t.source in STATES and t.target in STATES and t.right in RIGHTS for t in TRANSITIONS)
    reach = {"closed"}
    while True:  # states from which "closed" can be reached
        more = {t.source for t in TRANSITIONS if t.target in reach} - reach
        if not more:
            break
        reach |= more
    assert reach == set(STATES)
    who = {t.right: [r for r, rights in ROLES.items() if t.right in rights and r != "admin"] for t in TRANSITIONS}
    assert who["case_assign"] == ["planner"] and who["case_decide"] == ["supervisor"]  # a planner cannot decide
    assert who["case_work"] == ["supervisor"]  # a facility's appeal is recorded by staff


def _round(tmp_path: Path, n: int) -> tuple[Any, str]:
    db = open_records(tmp_path / "ws", f"sqlite:///{tmp_path / 'records.db'}")
    head = {"level": "facility", "as_of": DAY, "period_begn": date(2024, 1, 1), "period_end": date(2024, 12, 31),
            "snapshot_id": "s", "model_version": "1", "capacity": n, "request": "{}"}
    picks = [{"rank": i + 1, "fixmedins_code": f"H{i:03d}", "pick": "model", "probability": 1.0, "reasons": "[]"}
             for i in range(n)]
    return db, save_round(db, head, picks, "测试计划员")


PLANNER = ("计划员甲", "planner", ROLES["planner"])
SUPERVISOR = ("检查员乙", "supervisor", ROLES["supervisor"])


def test_a_case_moves_only_along_a_declared_transition_by_the_role_whose_right_it_names(tmp_path: Path) -> None:
    db, rid = _round(tmp_path, 3)
    ids = open_cases(db, rid, "计划员甲", "planner")
    assert ids == [f"{rid}-001", f"{rid}-002", f"{rid}-003"] and open_cases(db, rid, "x", "planner") == ids
    cid = ids[0]
    with pytest.raises(ForbiddenError):  # a supervisor does not change the plan's teams
        move(db, cid, "assigned", *SUPERVISOR, team=["甲"], window_begin=DAY, window_end=DAY)
    with pytest.raises(InputError) as missing:
        move(db, cid, "assigned", *PLANNER)
    assert "检查组成员" in str(missing.value.zh) and "检查结束日期" in str(missing.value.zh)
    with pytest.raises(InputError, match="window_end is before window_begin"):
        move(db, cid, "assigned", *PLANNER, team=["甲"], window_begin=DAY, window_end=DAY - timedelta(days=1))
    with pytest.raises(InputError) as skipped:  # no skipping the visit
        move(db, cid, "decided", *SUPERVISOR)
    assert "不能转为「已作出处理决定」" in str(skipped.value.zh)
    move(db, cid, "assigned", *PLANNER, team=["张医生", "李会计", "王审计"], window_begin=DAY,
         window_end=DAY + timedelta(days=4), note="医学、财务、审计联合")
    for target in ("on_site", "findings_drafted", "notified"):
        move(db, cid, target, *SUPERVISOR)
    with pytest.raises(ForbiddenError):  # a planner cannot decide
        move(db, cid, "decided", *PLANNER)
    move(db, cid, "appeal", *SUPERVISOR, note="机构提交书面陈述")
    move(db, cid, "decided", *SUPERVISOR, note="追回 3,200 元")
    with pytest.raises(InputError):
        move(db, cid, "rectification_due", *SUPERVISOR)  # no due date
    move(db, cid, "rectification_due", *SUPERVISOR, due_date=DAY + timedelta(days=30))
    case = get_case(db, cid, today=DAY + timedelta(days=31))
    assert case["overdue"] == "rectification" and case["team"] == ["张医生", "李会计", "王审计"]
    move(db, cid, "followed_up", *SUPERVISOR)
    done = move(db, cid, "closed", *SUPERVISOR)
    assert done["state"] == "closed" and done["next"] == []
    steps = [(e["source"], e["target"], e["role"]) for e in get_case(db, cid)["timeline"]]
    assert steps == [(None, "planned", "planner"), ("planned", "assigned", "planner"),
                     ("assigned", "on_site", "supervisor"), ("on_site", "findings_drafted", "supervisor"),
                     ("findings_drafted", "notified", "supervisor"), ("notified", "appeal", "supervisor"),
                     ("appeal", "decided", "supervisor"), ("decided", "rectification_due", "supervisor"),
                     ("rectification_due", "followed_up", "supervisor"), ("followed_up", "closed", "supervisor")]
    assert get_case(db, cid)["timeline"][1]["data"]["team"] == ["张医生", "李会计", "王审计"]


def test_cases_are_listed_by_state_member_and_overdue(tmp_path: Path) -> None:
    db, rid = _round(tmp_path, 4)
    ids = open_cases(db, rid, "计划员甲", "planner")
    move(db, ids[0], "assigned", *PLANNER, team=["张医生"], window_begin=DAY, window_end=DAY + timedelta(days=2))
    move(db, ids[1], "assigned", *PLANNER, team=["李会计"], window_begin=DAY, window_end=DAY + timedelta(days=20))
    later = DAY + timedelta(days=10)
    assert [c["case_id"] for c in list_cases(db, state="planned")] == ids[2:]
    assert [c["case_id"] for c in list_cases(db, member="张医生")] == [ids[0]]
    assert [(c["case_id"], c["overdue"]) for c in list_cases(db, overdue_only=True, today=later)] == [(ids[0], "visit")]
    with pytest.raises(InputError, match="unknown case state"):
        list_cases(db, state="open")


def _post(live: str, served: Served, role: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(live + path, json=body, headers=_auth(served, role), timeout=60)


@pytest.mark.slow
def test_a_round_of_30_cases_is_walked_to_closed_through_the_service(live: str, served: Served) -> None:
    ids: list[str] = []
    try:
        _walk_30(live, served, ids)
    finally:
        for cid in ids:  # the findings the decisions recorded: other tests count findings
            _drop_finding(served, cid)


def _walk_30(live: str, served: Served, ids: list[str]) -> None:
    saved = _post(live, served, "planner", "/api/rounds", {"capacity": 30, "note": "案件流程"})
    assert saved.status_code == 200, saved.text
    rid = saved.json()["round_id"]
    assert _post(live, served, "supervisor", "/api/cases/open", {"round_id": rid}).status_code == 403
    opened = _post(live, served, "planner", "/api/cases/open", {"round_id": rid}).json()
    ids.extend(opened["case_ids"])
    assert len(ids) == 30 and all(c["state"] == "planned" and c["fixmedins_name"] for c in opened["cases"])
    today = date.today()
    for i, cid in enumerate(ids):
        body = {"case_id": cid, "target": "assigned", "team": ["张医生", "李会计"] if i % 2 else ["王审计"],
                "window_begin": str(today), "window_end": str(today + timedelta(days=5))}
        wrong = _post(live, served, "supervisor", "/api/cases/move", body)
        assert wrong.status_code == 403 and "分派检查组" in wrong.json()["message"]
        assert _post(live, served, "planner", "/api/cases/move", body).status_code == 200
        for target in ("on_site", "findings_drafted", "notified"):
            assert _post(live, served, "planner", "/api/cases/move", {"case_id": cid, "target": target}
                         ).status_code == 403  # the visit is the supervisors'
            r = _post(live, served, "supervisor", "/api/cases/move", {"case_id": cid, "target": target})
            assert r.status_code == 200, r.text
            if target == "on_site":  # the team works through the 疑点清单: the first line confirmed, the next not
                work = _post(live, served, "supervisor", "/api/case/lines", {"case_id": cid}).json()["lines"]
                marks = [{"line_key": ln["line_key"], "verdict": "confirmed" if j == 0 else "rejected"}
                         for j, ln in enumerate(work[:2])]
                if marks:
                    assert _post(live, served, "planner", "/api/case/lines/mark",
                                 {"case_id": cid, "marks": marks}).status_code == 403
                    tally = _post(live, served, "supervisor", "/api/case/lines/mark", {"case_id": cid, "marks": marks})
                    assert tally.status_code == 200 and tally.json()["n"]["confirmed"] == 1, tally.text
        if i < 3:  # three facilities state their case first
            assert _post(live, served, "supervisor", "/api/cases/move",
                         {"case_id": cid, "target": "appeal", "note": "机构书面陈述申辩"}).status_code == 200
        decision = {"violation_types": "over_prescription" if i % 3 else None, "amount_recovered": 0.0,
                    "agreement_action": "warning" if i < 10 else "none", "insp_type": "flight"}
        decide = {"case_id": cid, "target": "decided", "decision": decision}
        assert _post(live, served, "planner", "/api/cases/move", decide).status_code == 403
        no_decision = _post(live, served, "supervisor", "/api/cases/move", {"case_id": cid, "target": "decided"})
        assert no_decision.status_code == 400 and "处理结果" in no_decision.json()["message"]
        decided = _post(live, served, "supervisor", "/api/cases/move", decide)
        assert decided.status_code == 200, decided.text
        if i < 10:  # ten ordered to rectify; the first one's due date has passed
            due = today - timedelta(days=1) if i == 0 else today + timedelta(days=30)
            assert _post(live, served, "supervisor", "/api/cases/move",
                         {"case_id": cid, "target": "rectification_due", "due_date": str(due)}).status_code == 200
        else:
            assert _post(live, served, "supervisor", "/api/cases/move",
                         {"case_id": cid, "target": "closed"}).status_code == 200
    overdue = _post(live, served, "planner", "/api/cases/list", {"overdue": True, "round_id": rid}).json()
    assert [c["case_id"] for c in overdue["cases"]] == [ids[0]] and overdue["cases"][0]["overdue"] == "rectification"
    for cid in ids[:10]:
        for target in ("followed_up", "closed"):
            assert _post(live, served, "supervisor", "/api/cases/move", {"case_id": cid, "target": target}
                         ).status_code == 200
    closed = _post(live, served, "supervisor", "/api/cases/list", {"state": "closed", "round_id": rid}).json()
    quality = _post(live, served, "analyst", "/api/rules/quality", {"by_type": True})
    assert quality.status_code == 200 and quality.json()["rules"], quality.text  # aggregate: no facility named
    assert all("fixmedins_code" not in r for r in quality.json()["rules"])
    assert _post(live, served, "analyst", "/api/case/lines", {"case_id": ids[0]}).status_code == 403
    assert closed["n"] == 30
    first = _post(live, served, "supervisor", "/api/case", {"case_id": ids[0]}).json()
    assert [e["target"] for e in first["timeline"]] == ["planned", "assigned", "on_site", "findings_drafted",
                                                        "notified", "appeal", "decided", "rectification_due",
                                                        "followed_up", "closed"]
    assert {e["by"] for e in first["timeline"]} == {"测试planner", "测试supervisor"}
    step = next(e for e in first["timeline"] if e["target"] == "decided")
    assert step["data"]["insp_id"] == ids[0]
    from records import read_findings
    from serving.store import open_database

    db = open_database(served.trained.province.workspace)
    try:
        found = read_findings(db)[0].set_index("insp_id")
    finally:
        db.dispose()
    assert set(ids) <= set(found.index)  # every decided case is a finding the next training reads
    worked = _post(live, served, "supervisor", "/api/case/lines", {"case_id": ids[0]}).json()["summary"]
    assert found.loc[ids[0], "amount_involved"] == pytest.approx(worked["amount_confirmed"])
    assert found.loc[ids[0], "batch"] == rid and found.loc[ids[0], "selection"] in ("targeted", "random")
    _the_notices_read_as_the_case_was_decided(live, served, ids[0], opened["cases"][0]["fixmedins_name"])


def _the_notices_read_as_the_case_was_decided(live: str, served: Served, cid: str, name: str) -> None:
    import subprocess
    import tempfile

    texts = {}
    for kind, title in (("decision", "行政处理决定书"), ("rectification", "责令整改通知书")):
        r = httpx.get(f"{live}/ui/download/case_notice/{cid}?kind={kind}", headers=_auth(served, "supervisor"),
                      timeout=120)
        assert r.status_code == 200 and r.content.startswith(b"%PDF"), r.text[:300]
        with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
            f.write(r.content)
            f.flush()
            texts[kind] = subprocess.run(["pdftotext", f.name, "-"], capture_output=True, text=True,
                                         check=True).stdout.replace("\n", "")
        assert all(ch in texts[kind] for ch in title), texts[kind][:400]  # spaced out, as the heading is
        assert name in texts[kind] and cid in texts[kind]
    assert "追回医疗保障基金" in texts["decision"] and "陈述申辩" in texts["decision"]  # case 0 stated its case
    assert "行政复议" in texts["decision"] and "复查" in texts["rectification"]
    early = httpx.get(f"{live}/ui/download/case_notice/NOPE-001?kind=decision", headers=_auth(served, "supervisor"),
                      timeout=60)
    assert early.status_code == 404
    assert _post(live, served, "analyst", "/api/cases/list", {}).status_code == 403


@pytest.mark.slow
def test_an_error_from_a_route_that_reads_its_context_answers_with_its_status(live: str, served: Served) -> None:
    """BentoML answers a method that takes the request context with the context's status: an error there
    answered 200 with the error in its body until the context was given the error's status."""
    r = _post(live, served, "planner", "/api/rounds", {"capacity": 3, "supersedes": "R19990101-9"})
    assert r.status_code == 404 and "不存在" in r.json()["message"], r.text
    r = _post(live, served, "planner", "/api/cases/open", {"round_id": "R19990101-9"})
    assert r.status_code == 404



def _evidence(n: int, rule: str = "R-A", amount: float = 100.0) -> pd.DataFrame:
    return pd.DataFrame([{"rule_id": rule, "hit_level": "fee_line", "mdtrt_id": f"M{i}", "feedetl_sn": f"F{rule}{i}",
                          "dr_code": "D1", "event_time": pd.Timestamp("2024-05-01"), "med_list_codg": "X",
                          "amount_at_risk": amount + i, "reason": "超量开药"} for i in range(n)])


def test_a_worklist_is_kept_once_marked_on_site_and_tallied(tmp_path: Path) -> None:
    db, rid = _round(tmp_path, 2)
    cid = open_cases(db, rid, "计划员甲", "planner")[0]
    assert keep_lines(db, cid, pd.concat([_evidence(3), _evidence(2, "R-B", 50.0)])) == 5
    assert keep_lines(db, cid, _evidence(9)) == 5  # the list a team works through does not change under it
    keys = [r["line_key"] for r in lines(db, cid)]
    assert keys[0] == "R-A|fee_line|FR-A2" and len(set(keys)) == 5  # largest amount first
    with pytest.raises(InputError) as early:
        mark(db, cid, [{"line_key": keys[0], "verdict": "confirmed"}], "检查员乙")
    assert "现场检查" in str(early.value.zh)
    move(db, cid, "assigned", *PLANNER, team=["张医生"], window_begin=DAY, window_end=DAY)
    move(db, cid, "on_site", *SUPERVISOR)
    with pytest.raises(InputError, match="outside 0"):
        mark(db, cid, [{"line_key": keys[0], "verdict": "confirmed", "amount_confirmed": 1e6}], "检查员乙")
    with pytest.raises(InputError, match="verdict must be one of"):
        mark(db, cid, [{"line_key": keys[0], "verdict": "yes"}], "检查员乙")
    tally = mark(db, cid, [{"line_key": keys[0], "verdict": "confirmed"},
                           {"line_key": keys[1], "verdict": "confirmed", "amount_confirmed": 30.0, "note": "部分属实"},
                           {"line_key": keys[2], "verdict": "rejected", "note": "有医嘱"}], "检查员乙")
    assert tally["n"] == {"unchecked": 2, "confirmed": 2, "rejected": 1}
    assert tally["amount_confirmed"] == 102.0 + 30.0 and tally["confirmed_claims"] == ["FR-A2", "FR-A1"]
    marked = next(r for r in lines(db, cid) if r["line_key"] == keys[2])
    assert (marked["verdict_zh"], marked["marked_by"], marked["note"]) == ("不属实", "检查员乙", "有医嘱")


def test_rule_quality_ranks_rules_by_their_confirmed_share_and_flags_the_ones_mostly_rejected() -> None:
    rows = [("C1", "H1", "R-GOOD", "confirmed", 100.0, 100.0)] * 9 + [("C1", "H1", "R-GOOD", "rejected", 50.0, None)]
    rows += [("C2", "H2", "R-BAD", "rejected", 80.0, None)] * 9 + [("C2", "H2", "R-BAD", "confirmed", 80.0, 80.0)]
    rows += [("C3", "H3", "R-FEW", "rejected", 10.0, None)] * 3
    checked = pd.DataFrame(rows, columns=["case_id", "fixmedins_code", "rule_id", "verdict", "amount_at_risk",
                                          "amount_confirmed"])
    q = rule_quality(checked).set_index("rule_id")
    assert list(q.index) == ["R-FEW", "R-BAD", "R-GOOD"]  # lowest confirmed share first
    assert q.loc["R-GOOD", "confirmed_share"] == 0.9 and q.loc["R-GOOD", "amount_confirmed"] == 900.0
    assert bool(q.loc["R-BAD", "review"]) and not q.loc["R-GOOD", "review"]
    assert not q.loc["R-FEW", "review"]  # three checked hits are too few to judge
    assert rule_quality(checked.iloc[:0]).empty


def test_the_rules_quality_command_shows_each_rule_and_flags_the_mostly_rejected(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from feijian.cli import app

    db, rid = _round(tmp_path, 1)
    cid = open_cases(db, rid, "计划员甲", "planner")[0]
    keep_lines(db, cid, pd.concat([_evidence(12, "R-BAD"), _evidence(2, "R-OK")]))
    move(db, cid, "assigned", *PLANNER, team=["张医生"], window_begin=DAY, window_end=DAY)
    move(db, cid, "on_site", *SUPERVISOR)
    work = lines(db, cid)
    mark(db, cid, [{"line_key": r["line_key"], "verdict": "confirmed" if r["rule_id"] == "R-OK" else "rejected"}
                   for r in work], "检查员乙")
    assert len(checked_lines(db)) == 14
    res = CliRunner().invoke(app, ["rules", "quality", "--workspace", str(tmp_path / "ws"), "--db",
                                   f"sqlite:///{tmp_path / 'records.db'}"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "R-BAD" in res.output and "R-OK" in res.output
    assert "review R-BAD R-BAD: 0 of 12 checked hits confirmed" in res.output
    assert set(checked_lines(db)["quarter"]) == {"2025Q1"}  # the quarter of the visit window, for quality over time
    by_quarter = CliRunner().invoke(app, ["rules", "quality", "--by-quarter", "--workspace", str(tmp_path / "ws"),
                                          "--db", f"sqlite:///{tmp_path / 'records.db'}"], env={"COLUMNS": "200"})
    assert by_quarter.exit_code == 0 and "2025Q1" in by_quarter.output, by_quarter.output


def test_training_logs_the_rule_quality_of_the_cases_checked(tmp_path: Path) -> None:
    import mlflow

    from training import registry
    from training.findings import read_rule_quality
    from training.train import log_rule_quality

    db, rid = _round(tmp_path, 1)
    cid = open_cases(db, rid, "计划员甲", "planner")[0]
    keep_lines(db, cid, _evidence(12, "R-BAD"))
    move(db, cid, "assigned", *PLANNER, team=["张医生"], window_begin=DAY, window_end=DAY)
    move(db, cid, "on_site", *SUPERVISOR)
    mark(db, cid, [{"line_key": r["line_key"], "verdict": "rejected"} for r in lines(db, cid)], "检查员乙")
    url = f"sqlite:///{tmp_path / 'records.db'}"
    quality = read_rule_quality(tmp_path / "ws", url)
    assert list(quality["rule_id"]) == ["R-BAD"] and bool(quality["review"].iloc[0])
    assert read_rule_quality(tmp_path / "none", f"sqlite:///{tmp_path / 'absent.db'}").empty  # not created
    assert not (tmp_path / "absent.db").exists()
    client = registry.setup(tmp_path / "mlruns", "feijian-training")
    with mlflow.start_run() as run:
        log_rule_quality(quality)
    got = client.get_run(run.info.run_id).data.metrics
    assert got["rule_quality.R-BAD.confirmed_share"] == 0.0 and got["rule_quality.flagged_for_review"] == 1


@pytest.mark.slow
def test_an_outside_inspection_is_a_case_whose_decision_records_its_finding_and_points(live: str,
                                                                                     served: Served) -> None:
    """A tip-off outside any round: opened by a planner on its own terms, walked to decided with a
    physician's points; the finding carries the terms, the points and the confirmed amount."""
    plan = _post(live, served, "planner", "/api/plan", {"capacity": 1}).json()
    code = plan["targets"][0]["fixmedins_code"]
    doctor = _post(live, served, "supervisor", "/api/explain", {"code": code}).json()["physicians"][0]
    terms = {"fixmedins_code": code, "selection": "tip_off", "insp_type": "targeted", "batch": "举报线索核查",
             "period_begn": "2024-01-01", "period_end": "2024-12-31", "reason": "参保人举报：未就诊却有结算记录"}
    assert _post(live, served, "supervisor", "/api/cases/outside", terms).status_code == 403
    assert _post(live, served, "planner", "/api/cases/outside", {**terms, "fixmedins_code": "H000"}).status_code == 404
    bad = _post(live, served, "planner", "/api/cases/outside", {**terms, "period_end": "2023-12-31"})
    assert bad.status_code == 400 and "所属期" in bad.json()["message"]
    opened = _post(live, served, "planner", "/api/cases/outside", terms)
    assert opened.status_code == 200, opened.text
    case = opened.json()
    cid = case["case_id"]
    try:
        assert case["round_id"] is None and case["outside"]["batch"] == "举报线索核查" and case["state"] == "planned"
        listed = _post(live, served, "planner", "/api/cases/list", {"round_id": "outside"}).json()["cases"]
        assert cid in [c["case_id"] for c in listed] and all(c["round_id"] is None for c in listed)
        today = date.today()
        assert _post(live, served, "planner", "/api/cases/move", {
            "case_id": cid, "target": "assigned", "team": ["赵医师", "钱会计"], "window_begin": str(today),
            "window_end": str(today)}).status_code == 200
        for target in ("on_site", "findings_drafted", "notified"):
            assert _post(live, served, "supervisor", "/api/cases/move", {"case_id": cid, "target": target}
                         ).status_code == 200
            if target == "on_site":
                work = _post(live, served, "supervisor", "/api/case/lines", {"case_id": cid}).json()["lines"]
                _post(live, served, "supervisor", "/api/case/lines/mark", {"case_id": cid, "marks": [
                    {"line_key": work[0]["line_key"], "verdict": "confirmed"}]})
        decision = {"violation_types": "over_prescription", "amount_recovered": 0.0, "insp_date": "2025-01-20",
                    "points": [{"dr_code": doctor["dr_code"], "points": 3}]}
        decided = _post(live, served, "supervisor", "/api/cases/move",
                        {"case_id": cid, "target": "decided", "decision": decision})
        assert decided.status_code == 200, decided.text
        from records import read_findings
        from serving.store import open_database

        db = open_database(served.trained.province.workspace)
        try:
            insp, points, picks = read_findings(db)
        finally:
            db.dispose()
        row = insp.set_index("insp_id").loc[cid]
        assert (row["fixmedins_code"], row["selection"], row["insp_type"], row["batch"]) == (
            code, "tip_off", "targeted", "举报线索核查")
        assert str(row["insp_date"])[:10] == "2025-01-20" and str(row["period_begn"])[:10] == "2024-01-01"
        assert row["amount_involved"] == pytest.approx(work[0]["amount_at_risk"])
        assert points[points["insp_id"] == cid][["dr_code", "points"]].values.tolist() == [[doctor["dr_code"], 3]]
        assert cid not in set(picks["insp_id"])  # no round pick behind it
        for _ in range(20):  # another worker asks the database at most once a second (FINDINGS_TTL)
            history = _post(live, served, "supervisor", "/api/explain", {"code": code}).json()["inspections"]
            if cid in {h["insp_id"] for h in history}:
                break
            time.sleep(0.25)
        assert cid in {h["insp_id"] for h in history}
        # 一医一档: the points are beside the physician in the facility's view and in the physician's own
        mine = _post(live, served, "supervisor", "/api/explain_physician", {"code": doctor["dr_code"]}).json()["points"]
        assert {"insp_id": cid, "insp_date": "2025-01-20", "fixmedins_code": code, "points": 3} in mine
        for _ in range(20):  # each worker sees the decision within a second
            listed = _post(live, served, "supervisor", "/api/explain", {"code": code}).json()["physicians"]
            same = next(d for d in listed if d["dr_code"] == doctor["dr_code"])
            if same["points_total"] == sum(p["points"] for p in mine):
                break
            time.sleep(0.25)
        assert same["points_total"] == sum(p["points"] for p in mine) and same["points_last"] == mine[0]["insp_date"]
    finally:
        _drop_finding(served, cid)


def test_a_records_database_from_an_earlier_version_is_upgraded_with_its_rows(tmp_path: Path) -> None:
    """The cases table as 0778d4a made it (round and rank NOT NULL, no outside terms), with a case and its
    timeline: opening the database upgrades it in place, keeps the rows, and an outside case opens."""
    import sqlite3

    from sqlalchemy import inspect

    from records import open_outside_case

    url = f"sqlite:///{tmp_path / 'a.db'}"
    db = open_records(tmp_path / "a", url)
    rid = save_round(db, {"level": "facility", "as_of": DAY, "period_begn": DAY, "period_end": DAY,
                          "snapshot_id": "s", "model_version": "1", "capacity": 1, "request": "{}"},
                     [{"rank": 1, "fixmedins_code": "H1", "pick": "model", "probability": 1.0, "reasons": "[]"}], "t")
    cid = open_cases(db, rid, *PLANNER[:2])[0]
    move(db, cid, "assigned", *PLANNER, team=["张医生"], window_begin=DAY, window_end=DAY)
    db.dispose()
    old = ("CREATE TABLE cases (case_id VARCHAR(60) NOT NULL, round_id VARCHAR(40) NOT NULL, rank INTEGER NOT NULL, "
           "fixmedins_code VARCHAR(40) NOT NULL, state VARCHAR(30) NOT NULL, team TEXT NOT NULL, window_begin DATE, "
           "window_end DATE, due_date DATE, opened_by VARCHAR(100) NOT NULL, opened_at DATETIME NOT NULL, "
           "updated_at DATETIME NOT NULL, PRIMARY KEY (case_id), UNIQUE (round_id, rank), "
           "FOREIGN KEY(round_id) REFERENCES rounds (round_id))")
    cols = ("case_id, round_id, rank, fixmedins_code, state, team, window_begin, window_end, due_date, opened_by, "
            "opened_at, updated_at")
    with sqlite3.connect(tmp_path / "a.db") as con:
        con.execute("PRAGMA foreign_keys=OFF")
        con.execute("PRAGMA legacy_alter_table=ON")  # the timeline's rows keep referring to "cases"
        con.execute("ALTER TABLE cases RENAME TO cases_now")
        con.execute(old)
        con.execute(f"INSERT INTO cases ({cols}) SELECT {cols} FROM cases_now")
        con.execute("DROP TABLE cases_now")
    db = open_records(tmp_path / "a", url)
    try:
        columns = {c["name"]: c for c in inspect(db.engine).get_columns("cases")}
        assert columns["round_id"]["nullable"] and "outside" in columns
        kept = get_case(db, cid)
        assert kept["team"] == ["张医生"] and [e["target"] for e in kept["timeline"]] == ["planned", "assigned"]
        terms = {"selection": "tip_off", "insp_type": "targeted", "batch": "举报", "period_begn": DAY,
                 "period_end": DAY, "reason": "举报线索"}
        out = open_outside_case(db, "H2", terms, "p", "planner", ROLES["planner"])
        assert get_case(db, out)["round_id"] is None
        with db.engine.connect() as con:
            assert con.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    finally:
        db.dispose()
    again = open_records(tmp_path / "a", url)  # a second opening finds nothing to do
    again.dispose()
