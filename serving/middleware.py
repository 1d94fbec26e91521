"""Tokens, roles, size limits, response headers and the audit trail, in front of every route of the service.

An ASGI middleware, so the BentoML APIs, the mounted page's routes and BentoML's own endpoints
(/metrics, /docs.json) are all covered the same way, by the one table in serving.permissions: a
request whose route is not named there is refused before it reaches the app. The authenticated
principal is handed to the handlers in the request state; a client cannot inject one (its
headers are not trusted). Every request to an audited route, refused or not, is appended to the
audit log with the principal and a digest of the response body.

Bodies are limited while they stream in: a chunked request declares no length, so the bytes are
counted as they arrive and the request is answered 413 as soon as they pass the limit.
"""

from __future__ import annotations

import gc
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from feijian.settings import audit_key_path, audit_log_path, workspace_dir
from serving import permissions
from serving.audit import AuditLog, digest, load_or_create_key
from serving.auth import AuthError, ForbiddenError, Principal, TokenCache
from serving.messages import message_zh
from serving.store import open_database

MAX_BODY = 1_000_000  # bytes
FREEZE_AFTER = 200  # requests
# The page (serving/web/static) loads its script and style from /ui/static and calls the API on the
# same origin; downloads are blob: URLs. Nothing inline, nothing framed, no other origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
]
NO_STORE = (b"cache-control", b"no-store")  # everything that carries data (and every refusal)
NO_CACHE = (b"cache-control", b"no-cache")  # the open static shell: may be kept, but revalidated

Send = Callable[[dict], Awaitable[None]]
Receive = Callable[[], Awaitable[dict]]


def with_headers(send: Send, cache_control: tuple[bytes, bytes]) -> Send:
    """`send` with the security headers and a Cache-Control added to the response start."""

    async def wrapped(msg: dict) -> None:
        if msg["type"] == "http.response.start":
            names = {k.lower() for k, _ in msg.get("headers", [])}
            extra = [h for h in (*SECURITY_HEADERS, cache_control) if h[0] not in names]
            msg = {**msg, "headers": [*msg.get("headers", []), *extra]}
        await send(msg)

    return wrapped


def with_messages(send: Send) -> Send:
    """`send` with a Chinese `message` added to every JSON error body that lacks one (BentoML's and
    FastAPI's validation errors, the framework's own 4xx/5xx): serving.messages words it."""
    held: dict[str, Any] = {}

    async def wrapped(msg: dict) -> None:
        if msg["type"] == "http.response.start":
            kind = dict(msg.get("headers", [])).get(b"content-type", b"")
            if msg["status"] >= 400 and kind.startswith(b"application/json"):
                held["start"], held["body"] = msg, b""
                return
        elif msg["type"] == "http.response.body" and "start" in held:
            held["body"] += msg.get("body", b"")
            if msg.get("more_body"):
                return
            start = held.pop("start")
            body = _with_message(held.pop("body"), start["status"])
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await send(msg)

    return wrapped


def _with_message(body: bytes, status: int) -> bytes:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        data = {"error": body.decode("utf-8", "replace")[:500]}
    if not isinstance(data, dict):
        data = {"error": data}
    if data.get("message"):
        return body
    data["message"] = message_zh(status, None, data.get("detail"))
    return json.dumps(data, ensure_ascii=False).encode()


async def _reply(
    send: Send, status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None, zh: str | None = None
) -> None:
    body = json.dumps({"error": message, "message": message_zh(status, zh), "status": status},
                      ensure_ascii=False).encode()  # fmt: skip
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Receive, limit: int) -> list[dict] | None:
    """The request's messages, read until the body ends; None as soon as more than `limit` bytes arrived."""
    messages: list[dict] = []
    size = 0
    while True:
        msg = await receive()
        messages.append(msg)
        if msg["type"] != "http.request":
            return messages  # the client went away: the app sees the disconnect
        size += len(msg.get("body", b""))
        if size > limit:
            return None
        if not msg.get("more_body", False):
            return messages


def replay(messages: list[dict], receive: Receive) -> Receive:
    """A receive that hands out the messages already read, then waits on the connection as usual."""
    queue = list(messages)

    async def recv() -> dict:
        return queue.pop(0) if queue else await receive()

    return recv


class GuardMiddleware:
    def __init__(self, app: Any, workspace: str | Path | None = None, db_url: str | None = None) -> None:
        """`workspace` and `db_url` default to the settings' (read here, when BentoML builds the app)."""
        self.app = app
        self.workspace = workspace_dir(workspace)
        self.db = open_database(self.workspace, db_url)
        self.tokens = TokenCache(self.db)
        self.audit = AuditLog(audit_log_path(self.workspace), load_or_create_key(audit_key_path(self.workspace)))
        self._seen = 0

    async def __call__(self, scope: dict, receive: Receive, send: Send) -> None:
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
        method: str = scope.get("method", "GET")
        route = permissions.match(method, path)
        send = with_headers(send, NO_CACHE if route is not None and route.right == permissions.OPEN else NO_STORE)
        send = with_messages(send)
        if route is None:
            known = permissions.templates_for(path)
            if known:
                allow = ", ".join(sorted({r.method for r in known}))
                await _reply(send, 405, f"{method} is not allowed here; use {allow}", [(b"allow", allow.encode())],
                             zh=f"此地址不接受 {method} 请求（应使用 {allow}）")
            else:
                await _reply(send, 404, "no such route", zh="没有这个地址")
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if route.right == permissions.OPEN:
            await self._forward(scope, receive, send, headers)
            return
        try:
            principal = self.tokens.authenticate(headers.get("authorization"), time.monotonic())
        except AuthError as exc:
            if route.audited:
                self.audit.append("anonymous", "-", path, self._target(scope, path), exc.http_status, digest(str(exc)))
            await _reply(send, exc.http_status, str(exc), zh=exc.zh)
            return
        if not permissions.allowed(principal.role, route.right):
            exc = ForbiddenError(
                f"role {principal.role!r} ({permissions.ROLE_LABELS.get(principal.role, '')}) may not "
                f"{route.right} ({method} {route.template}); roles that may: "
                f"{', '.join(permissions.roles_with(route.right))}",
                zh=permissions.forbidden_zh(principal.role, route.right),
            )
            if route.audited:
                target = self._target(scope, path)
                self.audit.append(principal.name, principal.role, path, target, exc.http_status, digest(str(exc)))
            await _reply(send, exc.http_status, str(exc), zh=exc.zh)
            return
        scope.setdefault("state", {})["principal"] = principal
        if not route.audited:
            await self._forward(scope, receive, send, headers)
            return
        await self._audited(scope, receive, send, headers, principal, path)

    @staticmethod
    def _target(scope: dict, path: str, body: bytes | None = None) -> str:
        query = scope.get("query_string", b"").decode("latin-1")
        target = f"{scope.get('method', '')} {path}" + (f"?{query}" if query else "")
        return target if body is None else f"{target} body_sha256={digest(body)}"

    async def _forward(
        self, scope: dict, receive: Receive, send: Send, headers: dict[str, str], on_body: Any = None
    ) -> bool:
        """Check the body's size (declared, then counted as it streams) and pass the request on.

        False when it was refused with 413 (the app never saw it)."""
        if int(headers.get("content-length") or 0) > MAX_BODY:
            await _reply(send, 413, f"request body larger than {MAX_BODY:,} bytes", zh="请求内容过大")
            return False
        if (
            scope.get("method") in ("GET", "HEAD")
            and "transfer-encoding" not in headers
            and not headers.get("content-length")
        ):
            await self.app(scope, receive, send)
            return True
        messages = await read_body(receive, MAX_BODY)
        if messages is None:
            await _reply(send, 413, f"request body larger than {MAX_BODY:,} bytes")
            return False
        if on_body is not None:
            on_body(b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request"))
        await self.app(scope, replay(messages, receive), send)
        return True

    async def _audited(
        self, scope: dict, receive: Receive, send: Send, headers: dict[str, str], principal: Principal, path: str
    ) -> None:
        status = {"code": 500}
        body_hash: list[str] = []
        request_body: list[bytes] = []
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
            await self._forward(scope, receive, snd, headers, on_body=request_body.append)
        finally:
            target = self._target(scope, path, b"".join(request_body))
            self.audit.append(
                principal.name, principal.role, path, target, status["code"], body_hash[0] if body_hash else digest(b"")
            )
