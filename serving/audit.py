"""The append-only audit log: who read or changed targets, when, and a digest of what they got.

One JSON line per request. Each entry carries the previous entry's MAC and its own, an HMAC-SHA256
(keyed by a secret kept in the workspace's .secrets/, never in the repository) over the entry and
the previous MAC: editing, deleting or reordering any line breaks every MAC after it, and without
the key nobody can forge a consistent chain. `feijian audit verify` recomputes the chain and names
the first entry that does not match.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS = "0" * 64


def _canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def digest(payload: bytes | str) -> str:
    return hashlib.sha256(payload if isinstance(payload, bytes) else payload.encode()).hexdigest()


def load_or_create_key(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    return bytes.fromhex(path.read_text(encoding="utf-8").strip())


class AuditLog:
    """Appender safe across threads and worker processes: an exclusive file lock around read-tail-and-append.

    Each worker keeps the chain head it last wrote and the file size after it; when the size has moved
    (another worker appended), it re-reads the last line before linking to it.
    """

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = Path(path)
        self.key = key
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch(mode=0o600, exist_ok=True)  # readable by the service's user only
        self._seq, self._prev = self._tail()
        self._size = self.path.stat().st_size

    def _tail(self) -> tuple[int, str]:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return 0, GENESIS
        size = self.path.stat().st_size
        with self.path.open("rb") as fh:
            span = 4096  # an entry is well under 1 KB; read more only if a line is longer
            while True:
                fh.seek(max(0, size - span))
                lines = fh.read().splitlines()
                if len(lines) > 1 or span >= size:
                    break
                span *= 4
        entry = json.loads(lines[-1])
        return int(entry["seq"]), str(entry["mac"])

    def _mac(self, body: dict[str, Any], prev: str) -> str:
        return hmac.new(self.key, prev.encode() + _canonical(body), hashlib.sha256).hexdigest()

    def append(self, actor: str, role: str, action: str, target: str, status: int, response_sha256: str) -> dict:
        """Append one entry; `response_sha256` is the SHA-256 (hex) of the body that was returned."""
        with self._lock:
            fh = self._handle()
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                return self._append_locked(fh, actor, role, action, target, status, response_sha256)
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _handle(self) -> Any:
        """The log kept open for appending (reopened if the file was rotated or removed)."""
        fh = getattr(self, "_fh", None)
        if fh is not None:
            try:
                if os.stat(self.path).st_ino == os.fstat(fh.fileno()).st_ino:
                    return fh
            except FileNotFoundError:
                pass
            fh.close()
        self._fh = self.path.open("a", encoding="utf-8")
        return self._fh

    def _append_locked(
        self, fh: Any, actor: str, role: str, action: str, target: str, status: int, response_sha256: str
    ) -> dict:
        size = os.fstat(fh.fileno()).st_size
        if size != self._size:
            self._seq, self._prev = self._tail()
        body = {
            "seq": self._seq + 1,
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "actor": actor,
            "role": role,
            "action": action,
            "target": target,
            "status": status,
            "response_sha256": response_sha256,
            "prev": self._prev,
        }
        entry = {**body, "mac": self._mac(body, self._prev)}
        fh.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
        fh.flush()
        self._size = os.fstat(fh.fileno()).st_size
        self._seq, self._prev = body["seq"], entry["mac"]
        return entry


@dataclass
class Verdict:
    ok: bool
    entries: int
    first_bad: int | None = None  # 1-based line number
    reason: str = ""


def verify(path: Path, key: bytes) -> Verdict:
    """Walk the chain; the first line whose MAC, link or sequence does not hold is reported."""
    log = AuditLog.__new__(AuditLog)
    log.key = key
    prev, n = GENESIS, 0
    if not Path(path).exists():
        return Verdict(True, 0)
    with Path(path).open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            try:
                entry = json.loads(line)
                mac = entry.pop("mac")
            except (json.JSONDecodeError, KeyError):
                return Verdict(False, n - 1, n, "not a valid audit entry")
            if entry.get("seq") != n:
                return Verdict(
                    False, n - 1, n, f"sequence {entry.get('seq')} where {n} was expected (deleted or moved)"
                )
            if entry.get("prev") != prev:
                return Verdict(False, n - 1, n, "does not link to the previous entry")
            if not hmac.compare_digest(mac, log._mac(entry, prev)):
                return Verdict(False, n - 1, n, "content does not match its MAC (edited)")
            prev = mac
    return Verdict(True, n)
