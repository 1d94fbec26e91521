"""The running service against its permission table: every registered route for every role, metrics
labels, body limits while streaming, headers, and a SIGTERM that stops everything.

One real `feijian serve` (two BentoML workers) on 127.0.0.1 over a copy of the hand-built province of
tests/serving_setup.py; the SIGTERM test starts a second one and stops it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from features.rings import ring_id
from serving import permissions
from tests.serving_setup import RING

pytestmark = pytest.mark.slow

FACILITY, PHYSICIAN = "B01", "B01D1"  # tests/serving_setup.py
RING_ID = ring_id(list(RING))
CODE_RX = re.compile(r"\b[BG]\d\d(D\d)?\b")  # any facility or physician code of that province
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


@dataclass
class Live:
    base: str
    tokens: dict[str, str]  # role → token
    names: dict[str, str]  # role → the token holder's name
    proc: subprocess.Popen
    log: Path
    workspace: Path
    models: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _copy_setup(bundled: Any, dest: Path) -> tuple[Path, Path]:
    """A private copy of the bundled workspace and models (findings recorded here stay here)."""
    from tests.serving_setup import Setup, mark
    from training.bundle import Bundle

    root = bundled.workspace.parent
    shutil.copytree(root / "ws", dest / "ws")
    shutil.copytree(root / "models", dest / "models")
    copy = Setup(dest / "ws", dest / "ws" / "features" / bundled.snapshot.name, Bundle.load(dest / "models" / "v1"))
    return copy.workspace, mark(copy)


def start_serve(workspace: Path, models: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """`feijian serve` as an operator runs it, ready to answer; its output goes to `log`."""
    from serving.serve_cli import service_env

    port = _free_port()
    feijian = Path(sys.executable).parent / "feijian"
    env = service_env(workspace, models)
    cmd = [str(feijian), "serve", "--workspace", str(workspace), "--models", str(models), "--port", str(port)]
    with log.open("wb") as out:
        # a process group of its own, as a shell's job or a service manager gives it
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=workspace.parent, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        time.sleep(0.5)
    proc.kill()
    pytest.fail("feijian serve did not become ready in 180 s")


@pytest.fixture(scope="module")
def live(bundled: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from serving.auth import issue
    from serving.store import open_database

    root = tmp_path_factory.mktemp("routes")
    ws, models = _copy_setup(bundled, root)
    db = open_database(ws)
    names = {role: f"测试{role}" for role in permissions.ROLES}
    tokens = {role: issue(db, names[role], role)[1] for role in permissions.ROLES}
    db.dispose()
    proc, base = start_serve(ws, models, root / "serve.log")
    try:
        yield Live(base, tokens, names, proc, root / "serve.log", ws, models)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


# --- the routes the running service has ----------------------------------------------------------------


def registered_routes(live: Live) -> set[tuple[str, str]]:
    """(method, template) of every route: the running service's OpenAPI document, plus the app tree
    BentoML serves (its own pages, the mounted page app, static mounts), which OpenAPI leaves out."""
    from serving.serve_cli import service_env

    spec = httpx.get(live.base + "/docs.json", headers=_auth(live, "admin"), timeout=30).json()
    found = {(m.upper(), path) for path, ops in spec["paths"].items() for m in ops}
    from serving.service import Feijian

    def walk(routes: list[Any], prefix: str) -> None:
        for r in routes:
            if hasattr(r, "methods") and r.methods:
                found.update((m, prefix + r.path) for m in r.methods)
            elif getattr(r, "routes", None):  # a mounted app with routes of its own
                walk(r.routes, prefix + r.path)
            else:  # a mounted app without routes (static files): everything under it
                found.update({("GET", f"{prefix}{r.path}/{{path:path}}"), ("HEAD", f"{prefix}{r.path}/{{path:path}}")})

    # Building the app reads the workspace from the environment: set it for this call only, so that
    # later tests in the same process see the environment they started with.
    saved = dict(os.environ)
    os.environ.update(service_env(live.workspace, live.models))
    try:
        walk(Feijian.to_asgi().routes, "")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return found


def _auth(live: Live, role: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {live.tokens[role]}"} if role else {}


def _score_row(live: Live) -> dict[str, float | None]:
    import pandas as pd

    from training.bundle import Bundle, champion_path
    from training.dataset import add_facility_context

    bundle = Bundle.load(champion_path(live.models))
    snap = live.workspace / "features" / bundle.meta["snapshot_id"]
    frame = add_facility_context(pd.read_parquet(snap / "facility.parquet"), 0)
    row = frame[bundle.features["facility"]].iloc[0].to_dict()
    return {k: (None if v != v else float(v)) for k, v in row.items()}


def samples(live: Live) -> dict[str, tuple[str, dict | None]]:
    """A request each route answers 200 to when allowed: template → (concrete path, JSON body)."""
    finding = {
        "insp_id": "WALK-1",
        "fixmedins_code": "G30",
        "batch": "2023Q4",
        "insp_date": "2023-11-20",
        "period_begn": "2023-01-01",
        "period_end": "2023-10-31",
        "selection": "random",
        "amount_recovered": 0.0,
    }
    saved = httpx.post(live.base + "/api/rounds", json={"capacity": 3}, headers=_auth(live, "admin"), timeout=120)
    assert saved.status_code == 200, saved.text
    round_id = saved.json()["round_id"]
    opened = httpx.post(live.base + "/api/cases/open", json={"round_id": round_id}, headers=_auth(live, "admin"),
                        timeout=60)
    assert opened.status_code == 200, opened.text
    case_id = opened.json()["case_ids"][0]
    assign = {"case_id": case_id, "target": "assigned", "team": ["巡检甲", "巡检乙"], "window_begin": "2025-02-10",
              "window_end": "2025-02-14"}  # planned → assigned, then assigned → assigned: case_assign each time
    on_site = opened.json()["case_ids"][1]  # a second case, on site, whose worklist is marked
    for step in ({**assign, "case_id": on_site}, {"case_id": on_site, "target": "on_site"}):
        moved = httpx.post(live.base + "/api/cases/move", json=step, headers=_auth(live, "admin"), timeout=60)
        assert moved.status_code == 200, moved.text
    worklist = httpx.post(live.base + "/api/case/lines", json={"case_id": on_site}, headers=_auth(live, "admin"),
                          timeout=60).json()
    assert worklist["lines"], "the second pick has no evidence line to mark"
    marks = {"case_id": on_site, "marks": [{"line_key": worklist["lines"][0]["line_key"], "verdict": "confirmed"}]}
    decided = opened.json()["case_ids"][2]  # a third case, decided: its 处理决定书 is downloaded
    steps = [{**assign, "case_id": decided}, *({"case_id": decided, "target": t} for t in
             ("on_site", "findings_drafted", "notified")),
             {"case_id": decided, "target": "decided", "decision": {"amount_recovered": 0.0}}]
    for step in steps:
        moved = httpx.post(live.base + "/api/cases/move", json=step, headers=_auth(live, "admin"), timeout=60)
        assert moved.status_code == 200, moved.text
    return {
        "/healthz": ("/healthz", None),
        "/livez": ("/livez", None),
        "/readyz": ("/readyz", None),
        "/metrics": ("/metrics", None),
        "/docs.json": ("/docs.json", None),
        "/schema.json": ("/schema.json", None),
        "/": ("/", None),
        "/static_content/{path:path}": ("/static_content/swagger-ui.css", None),
        "/api/plan": ("/api/plan", {"capacity": 3}),
        "/api/explain": ("/api/explain", {"code": FACILITY}),
        "/api/explain_physician": ("/api/explain_physician", {"code": PHYSICIAN}),
        "/api/search": ("/api/search", {"q": FACILITY[:2]}),
        "/api/evidence": ("/api/evidence", {"code": FACILITY}),
        "/api/rings": ("/api/rings", {}),
        "/api/ring": ("/api/ring", {"ring_id": RING_ID}),
        "/api/ring/evidence": ("/api/ring/evidence", {"ring_id": RING_ID}),
        "/api/score": ("/api/score", {"rows": [_score_row(live)]}),
        "/api/findings": ("/api/findings", finding),
        "/api/rounds": ("/api/rounds", {"capacity": 3, "note": "路由巡检"}),
        "/api/rounds/list": ("/api/rounds/list", {}),
        "/api/round": ("/api/round", {"round_id": saved.json()["round_id"]}),
        "/api/cases/open": ("/api/cases/open", {"round_id": round_id}),
        "/api/cases/outside": ("/api/cases/outside", {
            "fixmedins_code": FACILITY, "selection": "tip_off", "insp_type": "targeted", "batch": "路由巡检",
            "period_begn": "2024-01-01", "period_end": "2024-12-31", "reason": "举报线索"}),
        "/api/cases/list": ("/api/cases/list", {}),
        "/api/case": ("/api/case", {"case_id": case_id}),
        "/api/cases/move": ("/api/cases/move", assign),
        "/api/case/lines": ("/api/case/lines", {"case_id": on_site}),
        "/api/case/lines/mark": ("/api/case/lines/mark", marks),
        "/api/rules/quality": ("/api/rules/quality", {"by_type": True}),
        "/api/burden": ("/api/burden", {}),
        "/api/info": ("/api/info", {}),
        "/ui/": ("/ui/", None),
        "/ui/facility/{code}": (f"/ui/facility/{FACILITY}", None),
        "/ui/static/app.js": ("/ui/static/app.js", None),
        "/ui/static/vendor/echarts.min.js": ("/ui/static/vendor/echarts.min.js", None),
        "/ui/static/app.css": ("/ui/static/app.css", None),
        "/ui/download/plan": ("/ui/download/plan", {"capacity": 3}),
        "/ui/download/round_report": ("/ui/download/round_report", {"capacity": 3}),
        "/ui/download/facility_report/{code}": (f"/ui/download/facility_report/{FACILITY}?fmt=html", None),
        "/ui/download/evidence/{code}": (f"/ui/download/evidence/{FACILITY}", None),
        "/ui/download/ring_evidence/{ring_id}": (f"/ui/download/ring_evidence/{RING_ID}", None),
        "/ui/download/case_notice/{case_id}": (f"/ui/download/case_notice/{decided}?kind=decision", None),
    }


# Routes whose sample also needs a right of its own, checked by the route itself: a case's move needs the
# transition's right (records.cases.TRANSITIONS) besides the guard's; the sample assigns a team.
SAMPLE_RIGHTS = {"/api/cases/move": "case_assign"}


def expected(route: permissions.Route, role: str | None) -> int:
    if route.right == permissions.OPEN:
        return 200
    if role is None:
        return 401
    needs = (route.right, SAMPLE_RIGHTS.get(route.template, route.right))
    return 200 if all(permissions.allowed(role, r) for r in needs) else 403


def test_every_route_answers_each_role_as_the_table_says(live: Live) -> None:
    routes = registered_routes(live)
    table = {(r.method, r.template): r for r in permissions.ROUTES}
    unnamed = sorted((m, t) for m, t in routes if (m, t) not in table and not (m == "HEAD" and ("GET", t) in table))
    assert not unnamed, f"routes the permission table does not name (they are refused): {unnamed}"
    stale = sorted(k for k in table if k not in routes)
    assert not stale, f"table entries no route serves: {stale}"
    sample = samples(live)
    missing = sorted({t for _, t in routes} - set(sample))
    assert not missing, f"no sample request for {missing}: add one to samples()"
    roles: list[str | None] = [*permissions.ROLES, None]
    matrix: dict[tuple[str, str], dict[str | None, int]] = {}
    wrong = []
    with httpx.Client(base_url=live.base, timeout=120) as client:
        for method, template in sorted(routes, key=lambda k: (k[1], k[0])):
            route = table.get((method, template)) or table[("GET", template)]
            path, body = sample[template]
            for role in roles:
                r = client.request(method, path, json=body, headers=_auth(live, role))
                matrix.setdefault((method, template), {})[role] = r.status_code
                if r.status_code != expected(route, role):
                    wrong.append(f"{method} {path} as {role or 'no token'}: {r.status_code} {r.text[:160]}")
                for name, value in SECURITY_HEADERS.items():
                    assert r.headers.get(name) == value, f"{method} {path}: {name} = {r.headers.get(name)}"
                assert "frame-ancestors 'none'" in r.headers.get("content-security-policy", ""), path
                if route.right != permissions.OPEN:
                    assert r.headers.get("cache-control") == "no-store", f"{method} {path}"
    width = max(len(f"{m} {t}") for m, t in matrix)
    lines = [f"{'route':<{width}}  " + "  ".join(f"{(r or 'none'):>10}" for r in roles)]
    lines += [f"{m + ' ' + t:<{width}}  " + "  ".join(f"{row[r]:>10}" for r in roles) for (m, t), row in matrix.items()]
    print("\n" + "\n".join(lines))
    assert not wrong, "\n".join(wrong)


def test_unknown_routes_are_refused_for_every_role(live: Live) -> None:
    for role in [*permissions.ROLES, None]:
        for method, path in (("GET", "/api/plan"), ("GET", "/nope"), ("POST", "/ui/download/evidence"), ("PUT", "/")):
            r = httpx.request(method, live.base + path, headers=_auth(live, role), timeout=30)
            assert r.status_code in (404, 405), f"{method} {path} as {role}: {r.status_code}"


def test_refusals_are_audited_with_who_was_refused(live: Live) -> None:
    from feijian.settings import audit_log_path

    r = httpx.post(live.base + "/ui/download/plan", json={"capacity": 3}, headers=_auth(live, "supervisor"), timeout=30)
    assert r.status_code == 403
    entries = [json.loads(line) for line in audit_log_path(live.workspace).read_text(encoding="utf-8").splitlines()]
    refused = [e for e in entries if e["status"] == 403]
    assert refused and all(e["actor"] != "?" for e in refused)
    last = [e for e in refused if e["action"] == "/ui/download/plan"][-1]
    assert (last["actor"], last["role"]) == (live.names["supervisor"], "supervisor")


def test_analyst_sees_no_facility_risk_or_ranking(live: Live) -> None:
    """Item 13: an analyst's explanations over all codes rebuilt the ranking; now no route gives them one."""
    h = _auth(live, "analyst")
    calls = [
        ("/api/explain", {"code": FACILITY}),
        ("/api/explain_physician", {"code": PHYSICIAN}),
        ("/api/evidence", {"code": FACILITY}),
        ("/api/plan", {"capacity": 3}),
    ]
    for path, body in calls:
        r = httpx.post(live.base + path, json=body, headers=h, timeout=30)
        assert r.status_code == 403, f"{path}: {r.status_code}"
    for path in (f"/ui/download/facility_report/{FACILITY}?fmt=xlsx", f"/ui/download/evidence/{FACILITY}"):
        assert httpx.get(live.base + path, headers=h, timeout=30).status_code == 403
    assert httpx.post(live.base + "/ui/download/plan", json={"capacity": 3}, headers=h, timeout=30).status_code == 403
    assert httpx.post(live.base + "/api/burden", json={}, headers=h, timeout=30).status_code == 200


def test_facility_report_has_claim_rows_only_for_the_evidence_right(live: Live, tmp_path: Path) -> None:
    import openpyxl

    sheets = {}
    for role in ("planner", "supervisor"):
        path = f"/ui/download/facility_report/{FACILITY}?fmt=xlsx"
        r = httpx.get(live.base + path, headers=_auth(live, role), timeout=120)
        assert r.status_code == 200, r.text[:200]
        (tmp_path / f"{role}.xlsx").write_bytes(r.content)
        sheets[role] = openpyxl.load_workbook(tmp_path / f"{role}.xlsx").sheetnames
        html = httpx.get(live.base + path.replace("xlsx", "html"), headers=_auth(live, role), timeout=120).text
        assert ("就诊ID" in html) == (role == "supervisor"), role  # the claim table's header
    assert "疑点清单" in sheets["supervisor"] and "疑点清单" not in sheets["planner"]
    assert "疑点汇总" in sheets["planner"]


# --- metrics -----------------------------------------------------------------------------------------------


def test_metrics_are_labelled_by_route_and_stay_small(live: Live) -> None:
    mon = _auth(live, "monitor")
    with httpx.Client(base_url=live.base, timeout=30) as client:
        sup = _auth(live, "supervisor")
        for code in (FACILITY, "G17"):
            assert client.get(f"/ui/download/evidence/{code}", headers=sup).status_code == 200
        client.post("/api/explain", json={"code": "G18"}, headers=sup)

        def noise(n: int) -> None:
            for i in range(n):
                junk = secrets.token_hex(6)
                paths = [f"/{junk}", f"/api/{junk}", f"/ui/download/evidence/X{junk}", f"/ui/{junk}/x"]
                client.get(paths[i % 4], headers=sup if i % 2 else {})

        noise(40)  # each label and status seen once
        before = client.get("/metrics", headers=mon)
        noise(1000)
        after = client.get("/metrics", headers=mon)
    assert before.status_code == after.status_code == 200
    grown = len(after.content) - len(before.content)
    assert grown < 3000, f"/metrics grew by {grown:,} bytes over 1,000 random paths"
    labels = set(re.findall(r'endpoint="([^"]*)"', after.text))
    assert labels <= {r.template for r in permissions.ROUTES} | {permissions.UNMATCHED}, labels
    assert "/ui/download/evidence/{code}" in labels
    assert not CODE_RX.search(after.text), CODE_RX.search(after.text)


# --- bodies ------------------------------------------------------------------------------------------------


def _chunked_post(live: Live, path: str, total: int, body: bytes = b"A" * 65536) -> tuple[int, bytes, int]:
    """POST `total` bytes in chunks over a raw socket; stop as soon as the server answers.

    Returns (status, response body, bytes sent)."""
    host, port = live.base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=60)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {live.tokens['planner']}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    sock.sendall(head.encode())
    sent, answer = 0, b""
    try:
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                break  # the server answered before the body ended
            chunk = body[: total - sent]
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sent += len(chunk)
        else:
            sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        while b"\r\n\r\n" not in answer or len(answer) < answer.index(b"\r\n\r\n") + 4 + _length(answer):
            part = sock.recv(65536)
            if not part:
                break
            answer += part
    except ConnectionResetError:
        pass
    finally:
        sock.close()
    head_part, _, rest = answer.partition(b"\r\n\r\n")
    status = int(head_part.split(b" ")[1]) if head_part.startswith(b"HTTP/1.1") else 0
    return status, rest, sent


def _length(answer: bytes) -> int:
    m = re.search(rb"content-length: (\d+)", answer.split(b"\r\n\r\n")[0], re.I)
    return int(m.group(1)) if m else 0


def test_chunked_body_over_the_limit_is_refused_while_it_streams(live: Live) -> None:
    from serving.middleware import MAX_BODY

    for path in ("/api/plan", "/ui/download/plan"):
        status, body, sent = _chunked_post(live, path, 60_000_000)
        assert status == 413, (status, body[:200])
        assert len(body) < 500 and b"AAAA" not in body
        assert sent < 20_000_000, f"{path}: {sent:,} bytes went in before the 413"
    small = json.dumps({"capacity": 3}).encode()
    status, body, _ = _chunked_post(live, "/api/plan", len(small), small)
    assert status == 200 and b"targets" in body  # a chunked body under the limit is served
    status, body, _ = _chunked_post(live, "/api/plan", MAX_BODY - 10, b"A" * 1000)
    assert status == 400 and b"AAAA" not in body  # invalid, under the limit: no echo


def test_client_errors_never_echo_the_body_nor_log_a_traceback(live: Live) -> None:
    h = {**_auth(live, "planner"), "Content-Type": "application/json"}
    marker = "Z" * 5000
    for path in ("/api/plan", "/ui/download/plan"):
        for payload in (marker, json.dumps({"capacity": 3, "x": marker}), json.dumps({"capacity": marker})):
            r = httpx.post(live.base + path, content=payload, headers=h, timeout=30)
            assert r.status_code == 400, (path, r.status_code)
            assert "ZZZZ" not in r.text
    for bad in ("30", True, 3.0):
        r = httpx.post(live.base + "/api/plan", json={"capacity": bad}, headers=h, timeout=30)
        assert r.status_code == 400 and "capacity" in r.text, bad
    time.sleep(1.0)  # the workers' log lines reach the file
    log = live.log.read_text(errors="replace")
    assert "Traceback" not in log and "ZZZZ" not in log
    assert "POST /api/plan answered 400 (ValidationError)" in log  # one line instead
    assert max(map(len, log.splitlines())) < 2000


# --- stopping ----------------------------------------------------------------------------------------------


def test_sigterm_to_feijian_serve_drains_and_stops_everything(bundled: Any, tmp_path: Path) -> None:
    from serving.auth import issue
    from serving.store import open_database

    ws, models = _copy_setup(bundled, tmp_path)
    db = open_database(ws)
    token = issue(db, "停止测试", "planner")[1]
    db.dispose()
    proc, base = start_serve(ws, models, tmp_path / "serve.log")
    tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    assert len(tree) >= 4, tree  # feijian serve, bentoml, two workers
    groups = {os.getpgid(p.pid) for p in tree}
    port = int(base.rsplit(":", 1)[1])
    inflight: dict[str, Any] = {}

    def slow_request() -> None:  # a round report with 40 targets takes a few seconds to lay out
        try:
            r = httpx.post(
                base + "/ui/download/round_report",
                json={"capacity": 40, "seed": 5},
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )
            inflight["status"] = r.status_code
        except httpx.HTTPError as exc:
            inflight["error"] = repr(exc)

    t = threading.Thread(target=slow_request)
    t.start()
    time.sleep(0.5)
    try:
        from serving.serve_cli import STOP_GRACE

        asked = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=STOP_GRACE + 15) == 0
        took = time.monotonic() - asked
        assert took < STOP_GRACE + 5, f"feijian serve took {took:.1f} s to stop"
        print(f"\nSIGTERM → feijian serve gone in {took:.1f} s")
        t.join(60)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(p.is_running() for p in tree):
            time.sleep(0.2)
        left = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        in_groups = [p for p in psutil.process_iter(["pid"]) if _pgid(p.pid) in groups]
        assert not left and not in_groups, (left, in_groups)
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, "the port still accepts connections"
        assert inflight.get("status") == 200, inflight  # the request in flight was drained, not cut
    finally:
        for p in tree:
            if p.is_running():
                p.kill()


def test_sigkill_of_feijian_serve_still_stops_bentoml_and_its_workers(bundled: Any, tmp_path: Path) -> None:
    """SIGKILL cannot be caught: the kernel's parent-death signal makes BentoML stop its workers itself."""
    ws, models = _copy_setup(bundled, tmp_path)
    proc, base = start_serve(ws, models, tmp_path / "serve.log")
    tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    assert len(tree) >= 4, tree  # feijian serve, bentoml, two workers
    port = int(base.rsplit(":", 1)[1])
    try:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(_running(p) for p in tree):
            time.sleep(0.2)
        assert not [p for p in tree if _running(p)], tree
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, "the port still accepts connections"
    finally:
        for p in tree:
            if _running(p):
                p.kill()


def _running(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None
