"""Fixes to BentoML 1.4's HTTP stack, applied when serving.service is imported.

Timers. `TimeoutMiddleware` (bentoml/_internal/server/http/traffic.py) arms `loop.call_later(timeout, …)`
for every request and never cancels it: each request leaves a timer handle, its waiter future and
a context alive for the whole traffic timeout (120 s here). Under load that is ~10⁵ live objects
per worker, memory that grows for two minutes, and garbage-collector passes over all of them — the
service's latency tail. The replacement below is the same logic with the timer cancelled once the
request is over; nothing else changes.

Metric labels. `RunnerTrafficMetricsMiddleware` (bentoml/_internal/server/http/instruments.py)
labels every request metric with `endpoint=scope["path"]`, the raw path: facility codes in
/ui/download/evidence/<code> reached /metrics, and every random path added series for good
(3,000 random paths took /metrics from 264 KB to 24.7 MB). BentoML has no setting for the label,
so the middleware is given a copy of the scope whose path is the route template
(serving.permissions.route_label, "unmatched" for anything else); the app behind it gets the
real scope.

4xx logging. BentoML's API wrapper (_bentoml_impl/server/app.py) calls `log_exception`, an
error with the full traceback, for every validation error and every 4xx it raises; the
traceback's message quotes the request. A client error is logged as one info line (method,
route template, status, error type) and nothing of the body; 5xx keep their traceback.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import _bentoml_impl.server.app as bentoml_app
from bentoml._internal.server.http import instruments, traffic
from bentoml.exceptions import BentoMLException
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from serving.permissions import route_label

logger = logging.getLogger("bentoml.serve.feijian")  # under BentoML's configured loggers
REAL_SCOPE = "feijian.real_scope"


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


class RouteLabelledMetrics(instruments.RunnerTrafficMetricsMiddleware):
    """BentoML's request metrics, labelled by route template instead of raw path."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        async def behind(scope: dict, receive: Any, send: Any) -> None:
            await app(scope.get(REAL_SCOPE, scope), receive, send)

        super().__init__(behind, **kwargs)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        labelled = {**scope, REAL_SCOPE: scope}
        if scope["type"] == "http":
            labelled["path"] = route_label(scope.get("path", ""))
        await super().__call__(labelled, receive, send)


def _client_error_status(exc: BaseException | None) -> int | None:
    if isinstance(exc, ValidationError):
        return 400
    if isinstance(exc, BentoMLException) and exc.error_code.value < 500:
        return int(exc.error_code.value)
    return None


_log_exception = bentoml_app.log_exception


def log_exception(request: Request, exc_info: Any = True) -> None:
    """BentoML's `log_exception`, but a 4xx is one line without traceback or message (it may quote the body)."""
    status = _client_error_status(sys.exc_info()[1])
    if status is None:
        _log_exception(request, exc_info)
        return
    logger.info(
        "%s %s answered %d (%s)",
        request.method,
        route_label(request.url.path),
        status,
        type(sys.exc_info()[1]).__name__,
    )


def apply() -> None:
    traffic.TimeoutMiddleware.__call__ = _timeout_call  # type: ignore[method-assign]
    # _bentoml_impl.server.app imports this name when it builds the middleware list
    instruments.RunnerTrafficMetricsMiddleware = RouteLabelledMetrics  # type: ignore[misc]
    bentoml_app.log_exception = log_exception
