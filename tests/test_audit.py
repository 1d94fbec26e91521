"""The audit log's anchored chain: truncation, deletion and a forged head are caught, and say what is missing."""

from __future__ import annotations

import hashlib
import hmac
import json
import multiprocessing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from feijian.cli import app
from serving.audit import AuditLog, head_path, verify
from serving.middleware import audit_key_path, audit_log_path

KEY = b"k" * 32
N = 10
runner = CliRunner(env={"COLUMNS": "250"})


def _log(path: Path, n: int = N, key: bytes = KEY) -> AuditLog:
    log = AuditLog(path, key)
    for i in range(n):
        log.append("张三", "planner", "/api/plan", f"POST /api/plan #{i}", 200, "ab" * 32)
    return log


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


@pytest.fixture()
def logged(tmp_path: Path) -> Path:
    path = tmp_path / "audit" / "audit.log"
    _log(path)
    assert verify(path, KEY).ok
    return path


def test_intact_log_and_head_verify(logged: Path) -> None:
    v = verify(logged, KEY)
    assert v.ok and v.entries == N and not v.warnings
    head = json.loads(head_path(logged).read_text(encoding="utf-8"))
    assert head["entries"] == N and head["last_mac"] == json.loads(_lines(logged)[-1])["mac"]


def test_last_line_deleted_is_caught(logged: Path) -> None:
    logged.write_text("".join(_lines(logged)[:-1]), encoding="utf-8")
    v = verify(logged, KEY)
    assert not v.ok
    assert "ends at entry 9 but the signed head says 10: 1 entry missing at the end" in v.reason


def test_only_first_three_kept_is_caught(logged: Path) -> None:
    logged.write_text("".join(_lines(logged)[:3]), encoding="utf-8")
    v = verify(logged, KEY)
    assert not v.ok and "ends at entry 3 but the signed head says 10: 7 entries missing at the end" in v.reason


def test_emptied_log_is_caught(logged: Path) -> None:
    logged.write_text("", encoding="utf-8")
    v = verify(logged, KEY)
    assert not v.ok and "empty but a signed head records 10 entries" in v.reason


def test_deleted_log_is_caught(logged: Path) -> None:
    logged.unlink()
    v = verify(logged, KEY)
    assert not v.ok and "the log file is missing but a signed head records 10 entries" in v.reason


def test_deleted_head_is_caught(logged: Path) -> None:
    head_path(logged).unlink()
    v = verify(logged, KEY)
    assert not v.ok and "signed head" in v.reason and "missing" in v.reason


def test_both_deleted_is_caught(logged: Path) -> None:
    """The key exists only once the service has run, and the service creates log and head together."""
    logged.unlink()
    head_path(logged).unlink()
    v = verify(logged, KEY)
    assert not v.ok and "missing" in v.reason


def test_head_forged_without_the_key_is_caught(logged: Path) -> None:
    """Cut the log to three entries and write a head that says three, signed with a guessed key."""
    lines = _lines(logged)[:3]
    logged.write_text("".join(lines), encoding="utf-8")
    head = json.loads(head_path(logged).read_text(encoding="utf-8"))
    head.update(entries=3, last_mac=json.loads(lines[-1])["mac"])
    body = {k: v for k, v in head.items() if k != "mac"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    head["mac"] = hmac.new(b"guess" * 8, canonical, hashlib.sha256).hexdigest()
    head_path(logged).write_text(json.dumps(head), encoding="utf-8")
    v = verify(logged, KEY)
    assert not v.ok and "does not match its MAC" in v.reason


def test_truncated_while_serving_leaves_a_gap(logged: Path) -> None:
    """The appender continues from the signed head, not from a cut log: the next entry shows the hole."""
    log = AuditLog(logged, KEY)
    logged.write_text("".join(_lines(logged)[:4]), encoding="utf-8")
    log.append("李四", "supervisor", "/api/explain", "POST", 200, "cd" * 32)
    restarted = AuditLog(logged, KEY)  # a restart reads the head too
    restarted.append("李四", "supervisor", "/api/explain", "POST", 200, "cd" * 32)
    v = verify(logged, KEY)
    assert not v.ok and v.first_bad == 5 and "entries 5–10 are missing" in v.reason


def test_fresh_log_has_a_head_and_verifies_empty(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    AuditLog(path, KEY)
    assert head_path(path).exists()
    v = verify(path, KEY)
    assert v.ok and v.entries == 0


def test_head_lagging_after_a_crash_is_not_tampering(logged: Path) -> None:
    """A crash between the log line and the head update leaves a valid entry the head does not count yet."""
    saved = head_path(logged).read_bytes()
    AuditLog(logged, KEY).append("李四", "supervisor", "/api/explain", "POST", 200, "cd" * 32)
    head_path(logged).write_bytes(saved)
    v = verify(logged, KEY)
    assert v.ok and v.entries == N + 1 and v.warnings


def _append_many(path: str, n: int) -> None:
    log = AuditLog(Path(path), KEY)
    for i in range(n):
        log.append("w", "planner", "/api/plan", f"#{i}", 200, "ab" * 32)


def test_two_processes_appending_keep_chain_and_head(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(str(path), 150)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    v = verify(path, KEY)
    assert v.ok and v.entries == 300 and not v.warnings
    assert json.loads(head_path(path).read_text(encoding="utf-8"))["entries"] == 300


def _workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    key = audit_key_path(ws)
    key.parent.mkdir(parents=True)
    key.write_text(KEY.hex() + "\n", encoding="utf-8")
    _log(audit_log_path(ws))
    return ws


def test_cli_exit_code_6_on_truncation(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    ok = runner.invoke(app, ["audit", "verify", "--workspace", str(ws)])
    assert ok.exit_code == 0 and "10 entries" in ok.output
    log = audit_log_path(ws)
    log.write_text("".join(_lines(log)[:-1]), encoding="utf-8")
    cut = runner.invoke(app, ["audit", "verify", "--workspace", str(ws)])
    assert cut.exit_code == 6 and "1 entry missing at the end" in cut.output
    log.unlink()
    gone = runner.invoke(app, ["audit", "verify", "--workspace", str(ws)])
    assert gone.exit_code == 6 and "signed head records 10 entries" in gone.output


def _key_in_a_worker(path: str, start: object, out: object) -> None:
    from serving.audit import load_or_create_key

    start.wait()  # type: ignore[attr-defined]
    try:
        out.put(load_or_create_key(Path(path)).hex())  # type: ignore[attr-defined]
    except Exception as exc:  # the parent asserts there was none
        out.put(f"error: {exc!r}")  # type: ignore[attr-defined]


def test_workers_starting_at_once_read_one_whole_key(tmp_path: Path) -> None:
    """The service's workers create the missing key at the same moment: each gets the same 32 bytes (a
    worker reading a half-written file once signed with an empty key or failed to start)."""
    ctx = multiprocessing.get_context("fork")
    for attempt in range(5):
        path = tmp_path / f"a{attempt}" / "audit.key"
        start, out = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_key_in_a_worker, args=(str(path), start, out)) for _ in range(6)]
        for p in procs:
            p.start()
        start.set()
        keys = [out.get(timeout=30) for _ in procs]
        for p in procs:
            p.join(timeout=30)
        assert len(set(keys)) == 1 and len(bytes.fromhex(keys[0])) == 32, keys
        assert (path.stat().st_mode & 0o777) == 0o600 and [q.name for q in path.parent.iterdir()] == ["audit.key"]


@pytest.mark.parametrize("text", ["", "zz", "ab" * 8])
def test_a_key_file_that_holds_no_key_stops_the_service(tmp_path: Path, text: str) -> None:
    from feijian.errors import ConfigError
    from serving.audit import load_or_create_key

    (tmp_path / "audit.key").write_text(text)
    with pytest.raises(ConfigError, match="not a 32-byte hex key"):
        load_or_create_key(tmp_path / "audit.key")
