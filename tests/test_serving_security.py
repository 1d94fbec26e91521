"""Tokens, roles, the audit chain and findings storage (SQLite and a throwaway PostgreSQL)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from feijian.errors import InputError
from records import Finding, read_findings
from records.db import Database
from serving.audit import AuditLog, verify
from serving.auth import AuthError, ForbiddenError, TokenCache, issue, list_tokens, revoke
from serving.findings import FindingIn, burden, record
from serving.store import open_database
from tests.pg import throwaway_postgres


@pytest.fixture()
def db(tmp_path: Path) -> Database:
    return open_database(tmp_path)


def test_tokens_are_hashed_roles_enforced_and_revocable(db: Database, tmp_path: Path) -> None:
    tid, token = issue(db, "张三", "planner")
    raw = (tmp_path / "feijian.db").read_bytes()
    assert token.encode() not in raw  # only the digest is stored
    cache = TokenCache(db, ttl_seconds=0)
    who = cache.authenticate(f"Bearer {token}", now=0.0)
    assert who.role == "planner" and who.name == "张三"
    who.require("plan")
    with pytest.raises(ForbiddenError, match="findings_write"):
        who.require("findings_write")
    with pytest.raises(AuthError):
        cache.authenticate(None, now=0.0)
    with pytest.raises(AuthError):
        cache.authenticate("Bearer fj_not-a-token", now=0.0)
    revoke(db, tid)
    with pytest.raises(AuthError, match="revoked"):
        cache.authenticate(f"Bearer {token}", now=1.0)
    assert list_tokens(db)[0]["revoked"] is True
    with pytest.raises(InputError, match="role"):
        issue(db, "x", "superuser")


def test_audit_chain_verifies_and_names_the_tampered_entry(tmp_path: Path) -> None:
    key = b"k" * 32
    log = AuditLog(tmp_path / "audit.log", key)
    for i in range(5):
        log.append("张三", "planner", "/api/plan", f"POST /api/plan #{i}", 200, "ab" * 32)
    assert verify(tmp_path / "audit.log", key).ok
    again = AuditLog(tmp_path / "audit.log", key)  # a restarted service continues the chain
    again.append("李四", "supervisor", "/api/explain", "POST", 200, "cd" * 32)
    assert verify(tmp_path / "audit.log", key).entries == 6
    lines = (tmp_path / "audit.log").read_text(encoding="utf-8").splitlines()
    entry = json.loads(lines[2])
    entry["actor"] = "王五"
    lines[2] = json.dumps(entry, ensure_ascii=False, sort_keys=True)
    (tmp_path / "audit.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    verdict = verify(tmp_path / "audit.log", key)
    assert not verdict.ok and verdict.first_bad == 3 and "edited" in verdict.reason
    del lines[2]
    (tmp_path / "audit.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert verify(tmp_path / "audit.log", key).first_bad == 3
    assert not verify(tmp_path / "audit.log", b"x" * 32).ok  # without the key no chain checks out


def _finding(iid: str, code: str, **kw: object) -> FindingIn:
    base = {
        "insp_id": iid,
        "fixmedins_code": code,
        "batch": "2025Q1",
        "insp_date": "2025-01-20",
        "period_begn": "2024-01-01",
        "period_end": "2024-12-31",
        "selection": "targeted",
        "amount_recovered": 1200.5,
        "points": [{"dr_code": "D1", "points": 4}],
    }
    base.update(kw)
    return FindingIn(**base)


def _round_trip(db: Database) -> None:
    assert record(db, _finding("I1", "H1"), "张三") is True
    assert record(db, _finding("I1", "H1", amount_recovered=99.0, points=[]), "张三") is False  # update, not double
    record(db, _finding("I2", "H2", amount_recovered=0.0, insp_date="2025-02-01"), "李四")
    insp, pts, _ = read_findings(db)
    assert sorted(insp["insp_id"]) == ["I1", "I2"]
    assert insp.set_index("insp_id").loc["I1", "amount_recovered"] == pytest.approx(99.0)
    assert insp.set_index("insp_id").loc["I1", "insp_date"] == date(2025, 1, 20)
    assert set(pts["insp_id"]) == {"I2"}  # the update replaced I1's points
    with pytest.raises(InputError, match="not a facility"):
        record(db, _finding("I3", "NOPE"), "x", known_facilities={"H1", "H2"})


def test_findings_round_trip_sqlite(db: Database) -> None:
    _round_trip(db)


@pytest.mark.slow
def test_findings_round_trip_postgresql() -> None:
    with throwaway_postgres() as url:
        db = Database(url).create_all()
        try:
            _round_trip(db)
        finally:
            db.dispose()


def test_finding_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="selection"):
        _finding("I9", "H1", selection="guess")
    with pytest.raises(ValueError, match="points"):
        _finding("I9", "H1", points=[{"dr_code": "D", "points": 13}])


def test_burden_rates_by_region() -> None:
    insp = pd.DataFrame(
        {
            "insp_id": ["a", "b", "c"],
            "fixmedins_code": ["H1", "H1", "H2"],
            "insp_date": ["2024-01-10", "2024-06-01", "2024-03-01"],
            "amount_recovered": [0.0, 500.0, 0.0],
            "violation_types": [None, "minor", None],
        }
    )
    fac = pd.DataFrame(
        {
            "fixmedins_code": ["H1", "H2"],
            "admdvs": ["R1", "R2"],
            "hosp_lv": ["05", "08"],
            "ownership": ["public", "private"],
        }
    )
    out = {r["admdvs"]: r for r in burden(insp, fac)["admdvs"]}
    assert out["R1"]["repeat_rate"] == 0.5 and out["R1"]["no_finding_rate"] == 0.5
    assert out["R2"]["no_finding_rate"] == 1.0 and out["R2"]["inspections"] == 1


def test_permission_table_fails_closed_and_labels_by_template() -> None:
    from serving import permissions as pm

    assert pm.match("GET", "/no/such/route") is None
    assert pm.match("GET", "/api/plan") is None  # the API is POST only
    route = pm.match("GET", "/ui/download/evidence/P99010200050")
    assert route is not None and route.right == "evidence"
    assert pm.route_label("/ui/download/evidence/P99010200050") == "/ui/download/evidence/{code}"
    assert pm.route_label("/x/" + "a" * 50) == pm.UNMATCHED
    assert all(r.right in pm.RIGHTS or r.right == pm.OPEN for r in pm.ROUTES)
    assert len({(r.method, r.template) for r in pm.ROUTES}) == len(pm.ROUTES)
    assert set(pm.ROLES) == set(pm.ROLE_LABELS)
    # the confidential plan: its downloads need the same right as /api/plan
    plan_routes = {r.template for r in pm.ROUTES if r.right == "plan"}
    assert plan_routes == {"/api/plan", "/ui/download/plan", "/ui/download/round_report"}
    assert not pm.ROLES["supervisor"] & {"plan"}
    assert not pm.ROLES["analyst"] & {"plan", "explain", "evidence", "report"}
    assert pm.ROLES["monitor"] == {"metrics"}


def test_request_numbers_are_strict() -> None:
    from pydantic import ValidationError

    from serving.schemas import EvidenceRequest, PlanRequest

    for bad in ('"30"', "true", "30.0"):
        with pytest.raises(ValidationError, match="capacity"):
            PlanRequest.model_validate_json(f'{{"capacity": {bad}}}')
    with pytest.raises(ValidationError, match="exploration_share"):
        PlanRequest.model_validate_json('{"exploration_share": "0.1"}')
    with pytest.raises(ValidationError, match="limit"):
        EvidenceRequest.model_validate_json('{"code": "H1", "limit": "5"}')
    ok = PlanRequest.model_validate_json('{"capacity": 30, "exploration_share": 0, "region_caps": {"990101": 3}}')
    assert ok.capacity == 30 and ok.exploration_share == 0.0


def test_database_and_audit_log_are_created_private(tmp_path: Path) -> None:
    import os
    import stat

    old = os.umask(0o022)
    try:
        open_database(tmp_path).dispose()
        AuditLog(tmp_path / "audit" / "audit.log", b"k" * 32).append("x", "admin", "/api/plan", "", 200, "0" * 64)
    finally:
        os.umask(old)
    for path in (tmp_path / "feijian.db", tmp_path / "audit" / "audit.log"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_duplicate_physician_in_points_names_the_code() -> None:
    with pytest.raises(ValueError, match="D7"):
        _finding("I9", "H1", points=[{"dr_code": "D7", "points": 2}, {"dr_code": "D8", "points": 1},
                                     {"dr_code": "D7", "points": 3}])  # fmt: skip


def _race(url: str, n: int) -> list[object]:
    """n threads, each with its own engine (as the service's worker processes have), record one new insp_id at once."""
    import threading

    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def one(i: int) -> None:
        db = Database(url)
        try:
            barrier.wait()
            results[i] = record(db, _finding("RACE-1", "H1", amount_recovered=float(i)), f"worker{i}")
        except Exception as exc:  # the test reports what a request would have got
            results[i] = exc
        finally:
            db.dispose()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def _check_race(db: Database, url: str) -> None:
    for _ in range(3):  # a race is not certain on one try; three rounds of 12 make a miss unlikely
        with db.session() as s:
            s.execute(Finding.__table__.delete())
            s.commit()
        results = _race(url, 12)
        errors = [r for r in results if isinstance(r, Exception)]
        assert not errors, errors
        assert results.count(True) == 1 and results.count(False) == 11
        insp, pts, _ = read_findings(db)
        assert list(insp["insp_id"]) == ["RACE-1"] and list(pts["dr_code"]) == ["D1"]


def test_concurrent_same_new_finding_sqlite(tmp_path: Path) -> None:
    db = open_database(tmp_path)
    _check_race(db, db.url)


@pytest.mark.slow
def test_concurrent_same_new_finding_postgresql() -> None:
    with throwaway_postgres() as url:
        db = Database(url).create_all()
        try:
            _check_race(db, url)
        finally:
            db.dispose()


def test_recorded_findings_catch_up_by_what_changed(db: Database) -> None:
    """A worker's copy reads only recent changes; only findings dated before as_of count for plans."""
    from serving.findings import RecordedFindings, version

    as_of = date(2025, 1, 1)
    rec = RecordedFindings()
    rec.refresh(db, version(db), as_of)
    assert rec.frame().empty
    record(db, _finding("A1", "H1", insp_date="2025-02-01"), "x")  # after as_of: this round's visit
    rec.refresh(db, version(db), as_of)
    assert (rec.changes, rec.before_as_of_changes) == (1, 0) and list(rec.frame()["insp_id"]) == ["A1"]
    rec.refresh(db, version(db), as_of)  # nothing new: nothing counted
    assert (rec.changes, rec.before_as_of_changes) == (1, 0)
    record(db, _finding("A1", "H1", insp_date="2024-12-01"), "x")  # corrected to before as_of
    rec.refresh(db, version(db), as_of)
    assert (rec.changes, rec.before_as_of_changes) == (2, 1)
    assert rec.frame().set_index("insp_id").loc["A1", "insp_date"] == date(2024, 12, 1)
    with db.session() as s:  # deleted by hand: noticed, and it was before as_of
        s.delete(s.get(Finding, "A1"))
        s.commit()
    rec.refresh(db, version(db), as_of)
    assert rec.frame().empty and rec.before_as_of_changes == 2
