"""serving.bentoml_fixes behind its switch, and serving.log_filter: what each gives, with and without it.

BentoML's middleware classes are driven directly on a tiny ASGI app (no service, no model), so these
run in seconds; tests/test_serving_routes.py checks the same behaviour on a running `feijian serve`.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import prometheus_client
import pytest
from bentoml._internal.server.http import instruments, traffic
from bentoml._internal.server.http_app import log_exception
from pydantic import ValidationError
from starlette.requests import Request

from feijian.settings import ENV_BENTOML_FIXES, bentoml_fixes_enabled
from serving import bentoml_fixes, log_filter

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fixes() -> Iterator[None]:
    """Leave the classes as the test found them (other tests in this process may serve requests)."""
    was = bentoml_fixes.applied()
    yield
    bentoml_fixes.apply(was)


async def _ok(scope: dict, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _receive() -> dict:
    return {"type": "http.request", "body": b""}


async def _drop(message: dict) -> None:
    pass


def _get(path: str) -> dict:
    return {"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": []}


def test_the_switch_is_on_unless_set_to_0(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_BENTOML_FIXES, raising=False)
    assert bentoml_fixes_enabled()
    for value, on in (("1", True), ("0", False), (" 0 ", False), ("yes", True)):
        monkeypatch.setenv(ENV_BENTOML_FIXES, value)
        assert bentoml_fixes_enabled() is on, value


def test_apply_puts_the_fixes_in_and_takes_them_out(fixes: None) -> None:
    bentoml_fixes.apply(True)
    assert bentoml_fixes.applied()
    assert instruments.RunnerTrafficMetricsMiddleware.__call__ is bentoml_fixes._labelled_metrics_call
    bentoml_fixes.apply(False)
    assert not bentoml_fixes.applied()
    assert traffic.TimeoutMiddleware.__call__ is bentoml_fixes._TIMEOUT_CALL
    assert instruments.RunnerTrafficMetricsMiddleware.__call__ is bentoml_fixes._METRICS_CALL


def _live_timers_after(requests: int) -> int:
    """Timers still armed after `requests` requests through BentoML's timeout middleware (120 s)."""
    middleware = traffic.TimeoutMiddleware(_ok, timeout=120)

    async def run() -> int:
        for _ in range(requests):
            await middleware(_get("/api/plan"), _receive, _drop)
        gc.collect()
        return sum(isinstance(o, asyncio.TimerHandle) and not o.cancelled() for o in gc.get_objects())

    return asyncio.run(run())


def test_timers_are_cancelled_with_the_fix_and_left_armed_without(fixes: None) -> None:
    bentoml_fixes.apply(True)
    assert _live_timers_after(100) == 0
    bentoml_fixes.apply(False)
    assert _live_timers_after(100) == 100  # BentoML as released: one 120 s timer per request


def test_a_request_over_the_timeout_still_gets_504_with_the_fix(fixes: None) -> None:
    async def slow(scope: dict, receive: Any, send: Any) -> None:
        await asyncio.sleep(5)

    sent: list[dict] = []

    async def keep(message: dict) -> None:
        sent.append(message)

    bentoml_fixes.apply(True)
    asyncio.run(traffic.TimeoutMiddleware(slow, timeout=0.05)(_get("/api/plan"), _receive, keep))
    assert sent[0]["status"] == 504 and (b"cache-control", b"no-store") in sent[0]["headers"]


def _endpoint_labels(namespace: str) -> set[str]:
    text = prometheus_client.generate_latest(prometheus_client.REGISTRY).decode()
    return {
        line.split('endpoint="', 1)[1].split('"', 1)[0]
        for line in text.splitlines()
        if line.startswith(f"{namespace}_request_total{{")
    }


@pytest.mark.parametrize("enabled", [True, False])
def test_metrics_are_labelled_by_route_template_with_the_fix(fixes: None, enabled: bool) -> None:
    seen: list[str] = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        seen.append(scope["path"])
        await _ok(scope, receive, send)

    namespace = f"feijian_test_fixes_{'on' if enabled else 'off'}"
    bentoml_fixes.apply(enabled)
    middleware = instruments.RunnerTrafficMetricsMiddleware(app, namespace=namespace)
    paths = ["/ui/download/evidence/P99010200050", "/ui/download/evidence/P99010200051", "/no/such/route"]
    for path in paths:
        asyncio.run(middleware(_get(path), _receive, _drop))
    assert seen == paths  # the app behind always gets the request's own path
    if enabled:
        assert _endpoint_labels(namespace) == {"/ui/download/evidence/{code}", "unmatched"}
    else:
        assert _endpoint_labels(namespace) == set(paths)  # one series per raw path, codes included


def test_importing_the_service_patches_nothing_and_reads_only_its_decorator_settings() -> None:
    """Only $FEIJIAN_WORKERS and $FEIJIAN_TRACING are read on import (the decorator needs them); the
    fixes wait for the service to start."""
    probe = (  # records FEIJIAN_* reads made by this repository's code (libraries may copy the whole env)
        "import json, os, sys\n"
        "cls = type(os.environ)\n"
        "real, seen = cls.__getitem__, set()\n"
        "def spy(self, key):\n"
        "    f = sys._getframe(1)\n"
        "    while f is not None and f.f_code.co_filename.endswith(('os.py', '_collections_abc.py')):\n"
        "        f = f.f_back\n"
        "    name = os.path.abspath(f.f_code.co_filename) if f is not None else ''\n"
        f"    if str(key).startswith('FEIJIAN_') and name.startswith({str(ROOT)!r}) and '.venv' not in name:\n"
        "        seen.add(key)\n"
        "    return real(self, key)\n"
        "cls.__getitem__ = spy\n"
        "import serving.service\n"
        "from serving import bentoml_fixes\n"
        "print(json.dumps({'seen': sorted(seen), 'applied': bentoml_fixes.applied()}))\n"
    )
    env = {**os.environ, "FEIJIAN_WORKSPACE": "/nonexistent/feijian-workspace", "BENTOML_DO_NOT_TRACK": "true"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"seen": ["FEIJIAN_TRACING", "FEIJIAN_WORKERS"], "applied": False}


# --- 4xx logging (serving.log_filter) -----------------------------------------------------------------


@pytest.fixture
def bentoml_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    target = logging.getLogger(log_filter.BENTOML_ERROR_LOGGER)
    filters = list(target.filters)
    caplog.set_level(logging.INFO)
    yield caplog
    target.filters[:] = filters


def _log_bentoml_error(exc: BaseException) -> None:
    """What BentoML's API wrapper does when a handler or the input validation raises `exc`."""
    request = Request({**_get("/api/plan"), "method": "POST"})
    try:
        raise exc
    except BaseException:
        log_exception(request)


def _validation_error() -> ValidationError:
    from serving.schemas import PlanRequest

    try:
        PlanRequest.model_validate({"capacity": "Z" * 500})
    except ValidationError as exc:
        return exc
    raise AssertionError("PlanRequest accepted a string capacity")


def test_a_4xx_is_one_info_line_without_traceback_or_body(bentoml_log: pytest.LogCaptureFixture) -> None:
    from bentoml.exceptions import NotFound

    log_filter.install()
    log_filter.install()  # once is enough: a second call adds nothing
    _log_bentoml_error(_validation_error())
    _log_bentoml_error(NotFound("no facility NO-SUCH"))
    lines = [(r.name, r.levelno, r.getMessage(), r.exc_info) for r in bentoml_log.records]
    assert lines == [
        ("bentoml.serve.feijian", logging.INFO, "POST /api/plan answered 400 (ValidationError)", None),
        ("bentoml.serve.feijian", logging.INFO, "POST /api/plan answered 404 (NotFound)", None),
    ]
    assert "ZZZ" not in bentoml_log.text


def test_a_5xx_keeps_its_traceback(bentoml_log: pytest.LogCaptureFixture) -> None:
    log_filter.install()
    _log_bentoml_error(RuntimeError("boom"))
    (record,) = bentoml_log.records
    assert record.levelno == logging.ERROR and record.exc_info is not None and "boom" in bentoml_log.text


def test_without_the_filter_bentoml_logs_a_4xx_with_its_traceback(bentoml_log: pytest.LogCaptureFixture) -> None:
    target = logging.getLogger(log_filter.BENTOML_ERROR_LOGGER)
    target.filters[:] = [f for f in target.filters if not isinstance(f, log_filter.ClientErrorsInOneLine)]
    _log_bentoml_error(_validation_error())
    (record,) = bentoml_log.records
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert "ZZZ" in bentoml_log.text  # the validation error's message quotes the body
