"""Two fixes to BentoML 1.4's HTTP middleware that neither configuration nor a public extension point
can make; the service applies them when it starts, unless $FEIJIAN_BENTOML_FIXES is 0
(feijian.settings.bentoml_fixes_enabled).

Timers. `TimeoutMiddleware` (bentoml/_internal/server/http/traffic.py) arms `loop.call_later(timeout, …)`
for every request and never cancels it: each request leaves a timer handle, its waiter future and
a context alive for the whole traffic timeout (120 s here). Under load that is ~10⁵ live objects
per worker, memory that grows for two minutes, and garbage-collector passes over all of them — the
service's latency tail. `traffic.timeout` must be a positive number and the middleware is always
installed, and the handle is local to BentoML's `__call__`: no setting or added middleware can
cancel it. The replacement is the same logic with the timer cancelled once the request is over
(its 504 also carries the no-store and nosniff headers the service's other refusals carry).

Metric labels. `RunnerTrafficMetricsMiddleware` (bentoml/_internal/server/http/instruments.py)
labels every request metric with `endpoint=scope["path"]`, the raw path: facility codes in
/ui/download/evidence/<code> reached /metrics, and every random path added series for good
(3,000 random paths took /metrics from 264 KB to 24.7 MB). The `metrics` setting has only
`enabled`, `namespace` and the duration buckets, and the middleware sits outside every middleware a
service may add (`add_asgi_middleware`), so nothing public changes what it reads; `enabled: False`
drops /metrics with it, and rebuilding the request metrics with `bentoml.metrics` would re-implement
BentoML's middleware and its multi-worker collection to change one label. The replacement
hands BentoML's middleware a copy of the scope whose path is the route template
(serving.permissions.route_label, "unmatched" for anything else); the app behind it gets the real
scope.

Both are in 1.4.39 (installed) and in BentoML's main branch as of 30 April 2026. No issue on
https://github.com/bentoml/BentoML/issues reports either; the nearest are
https://github.com/bentoml/BentoML/issues/5642 (a sync handler runs on after TimeoutMiddleware's 504)
and https://github.com/bentoml/BentoML/issues/5246 with https://github.com/bentoml/BentoML/pull/5654
(the timeout middleware and mounted apps), neither about the timer or the labels.

BentoML's 4xx logging (a traceback per validation error) is not patched: serving.log_filter filters it
with the standard logging machinery, the extension point BentoML's logging guide names.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bentoml._internal.server.http import instruments, traffic
from starlette.responses import JSONResponse

from serving.permissions import route_label

REAL_SCOPE = "feijian.real_scope"
# BentoML's own methods, put back by apply(False)
_TIMEOUT_CALL = traffic.TimeoutMiddleware.__call__
_METRICS_CALL = instruments.RunnerTrafficMetricsMiddleware.__call__


async def _timeout_call(self: Any, scope: dict, receive: Any, send: Any) -> None:
    if scope["type"] not in ("http", "websocket"):
        return await self.app(scope, receive, send)
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()
    timer = loop.call_later(self.timeout, self._set_timer_out, waiter)

    async def _send(message: Any) -> None:
        if not waiter.done():
            waiter.set_result(None)
        await send(message)

    fut = asyncio.ensure_future(self.app(scope, receive, _send), loop=loop)
    try:
        await waiter
    except TimeoutError:
        if fut.cancel():
            resp = JSONResponse(
                {"error": f"Not able to process the request in {self.timeout} seconds"},
                504,
                headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
            )
            await resp(scope, receive, send)
    else:
        await fut
    finally:
        timer.cancel()


class RealScope:
    """The app behind BentoML's metrics middleware, handed the request's own scope back."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await self.app(scope.get(REAL_SCOPE, scope), receive, send)


async def _labelled_metrics_call(self: Any, scope: dict, receive: Any, send: Any) -> None:
    """BentoML's request metrics, labelled by route template instead of raw path."""
    if scope["type"] != "http":
        return await _METRICS_CALL(self, scope, receive, send)
    if not isinstance(self.app, RealScope):  # once per middleware instance; a no-op for the real scope
        self.app = RealScope(self.app)
    labelled = {**scope, "path": route_label(scope.get("path", "")), REAL_SCOPE: scope}
    await _METRICS_CALL(self, labelled, receive, send)


def apply(enabled: bool = True) -> None:
    """Put the fixes in place (or, with False, BentoML's methods back). Methods are replaced on the
    classes, so middleware BentoML has already built is covered too; call it before serving requests."""
    calls: tuple[Any, Any] = (_timeout_call, _labelled_metrics_call) if enabled else (_TIMEOUT_CALL, _METRICS_CALL)
    traffic.TimeoutMiddleware.__call__ = calls[0]  # type: ignore[method-assign]
    instruments.RunnerTrafficMetricsMiddleware.__call__ = calls[1]  # type: ignore[method-assign]


def applied() -> bool:
    return traffic.TimeoutMiddleware.__call__ is _timeout_call
