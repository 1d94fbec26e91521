"""Tokens, roles, size limits and the audit trail, in front of every route of the service.

An ASGI middleware, so the BentoML APIs, the mounted page's data routes and BentoML's own
endpoints (/metrics, /docs.json) are all covered the same way; only the health probes and the
page's static shell (which holds no data) are open. The authenticated principal is handed to the
handlers in the request state; a client cannot inject one (its headers are not trusted).
Every request to a route that reads or changes targets is appended to the audit log with a digest
of the response body.
"""

from __future__ import annotations

import gc
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from feijian.errors import FeijianError
from feijian.settings import state_dir
from serving.audit import AuditLog, digest, load_or_create_key
from serving.auth import AuthError, Principal, TokenCache
from serving.db import open_database

OPEN_PATHS = ("/healthz", "/livez", "/readyz", "/ui", "/ui/", "/ui/static/app.js", "/ui/static/app.css")
# path → permission; a path not listed needs any valid token
PERMISSION_BY_PATH = {
    "/api/plan": "plan",
    "/api/score": "score",
    "/api/explain": "explain",
    "/api/explain_physician": "explain",
    "/api/evidence": "evidence",
    "/api/findings": "findings_write",
    "/api/burden": "burden",
    "/ui/download/plan": "report",
    "/ui/download/round_report": "report",
    "/ui/download/facility_report": "report",
    "/ui/download/evidence": "evidence",
}
AUDITED_PREFIXES = ("/api/", "/ui/download/")
MAX_BODY = 1_000_000  # bytes
FREEZE_AFTER = 200  # requests


def audit_key_path(workspace: Path) -> Path:
    return state_dir(workspace) / ".secrets" / "audit.key"


def audit_log_path(workspace: Path) -> Path:
    return state_dir(workspace) / "audit" / "audit.log"


async def _reply(send: Any, status: int, message: str) -> None:
    body = json.dumps({"error": message, "status": status}, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def permission_for(path: str) -> str | None:
    for prefix, perm in PERMISSION_BY_PATH.items():
        if path == prefix or path.startswith(prefix + "/"):
            return perm
    return None


class GuardMiddleware:
    def __init__(self, app: Any, workspace: str, db_url: str | None = None) -> None:
        self.app = app
        self.workspace = Path(workspace)
        self.db = open_database(self.workspace, db_url)
        self.tokens = TokenCache(self.db)
        self.audit = AuditLog(audit_log_path(self.workspace), load_or_create_key(audit_key_path(self.workspace)))
        self._seen = 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self._seen += 1
        if self._seen == FREEZE_AFTER:
            # The framework builds its routes, schemas and pools on the first requests; once they are
            # built, move them (with the loaded state) out of the collector's passes too.
            gc.collect()
            gc.freeze()
        path: str = scope.get("path", "")
        if path in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if int(headers.get("content-length") or 0) > MAX_BODY:
            await _reply(send, 413, f"request body larger than {MAX_BODY:,} bytes")
            return
        try:
            principal = self.tokens.authenticate(headers.get("authorization"), time.monotonic())
            perm = permission_for(path)
            if perm is not None:
                principal.require(perm)
        except FeijianError as exc:
            if path.startswith(AUDITED_PREFIXES):
                self.audit.append(
                    "anonymous" if isinstance(exc, AuthError) else "?", "-", path, "", exc.http_status, digest(str(exc))
                )
            await _reply(send, exc.http_status, str(exc))
            return
        scope.setdefault("state", {})["principal"] = principal
        if not path.startswith(AUDITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        await self._audited(scope, receive, send, principal, path)

    async def _audited(self, scope: dict, receive: Any, send: Any, principal: Principal, path: str) -> None:
        status = {"code": 500}
        body_hash = []
        request_parts: list[bytes] = []

        async def recv() -> Any:
            msg = await receive()
            if msg.get("type") == "http.request":
                request_parts.append(msg.get("body", b""))
            return msg

        h = hashlib.sha256()

        async def snd(msg: dict) -> None:
            if msg["type"] == "http.response.start":
                status["code"] = msg["status"]
            elif msg["type"] == "http.response.body":
                h.update(msg.get("body", b""))
                if not msg.get("more_body"):
                    body_hash.append(h.hexdigest())
            await send(msg)

        try:
            await self.app(scope, recv, snd)
        finally:
            query = scope.get("query_string", b"").decode("latin-1")
            target = f"{scope.get('method', '')} {path}" + (f"?{query}" if query else "")
            target += f" body_sha256={digest(b''.join(request_parts))}"
            self.audit.append(
                principal.name, principal.role, path, target, status["code"], body_hash[0] if body_hash else digest(b"")
            )
