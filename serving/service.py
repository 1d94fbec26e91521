"""The BentoML service: plan the next round, score, explain, evidence, reports, findings, burden.

`bentoml serve serving.service:Feijian` (or `feijian serve`) loads the champion bundle and the newest
snapshot once (serving.state), refuses to start when they are missing or do not match, and serves
the JSON API under /api/, the planners' page under /ui/, BentoML's health probes and /metrics.
Tokens, roles, limits and the audit trail sit in front of everything (serving.middleware).
Bodies are flat JSON objects validated by the pydantic models in serving.schemas.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import gc
import inspect
import json
from collections import OrderedDict
from http import HTTPStatus
from typing import Any

import anyio
import bentoml
import pandas as pd
from bentoml.exceptions import BentoMLException
from starlette.responses import Response

from features.schema import FIXMEDINS_TYPE, HOSP_LV, OWNERSHIP
from feijian.errors import FeijianError
from feijian.settings import bentoml_fixes_enabled, db_url_env, service_options
from serving import bentoml_fixes, log_filter
from serving.findings import FindingIn, burden, record
from serving.middleware import GuardMiddleware
from serving.schemas import EvidenceRequest, ExplainRequest, PlanRequest, ScoreRequest
from serving.state import Exclusions, ServingState, load_state
from serving.web.app import make_page_app

MAX_CACHED = 256  # distinct plan requests kept (explanations: 16× as many targets)


class ServiceError(BentoMLException):
    """A FeijianError crossing the API boundary: keeps its HTTP status (400 bad input, 404, 503 …)."""


def _guarded(fn: Any) -> Any:
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def inner_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except FeijianError as exc:
                raise ServiceError(str(exc), error_code=HTTPStatus(exc.http_status)) from None

        return inner_async

    @functools.wraps(fn)
    def inner(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FeijianError as exc:
            raise ServiceError(str(exc), error_code=HTTPStatus(exc.http_status)) from None

    return inner


def _principal(ctx: bentoml.Context) -> Any:
    return ctx.request.scope.get("state", {}).get("principal")


def _json(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, default=str).encode()


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records", force_ascii=False, date_format="iso", double_precision=15))


page = make_page_app()
# Read on import, and nothing else is: BentoML 1.4 takes the worker count and the tracing settings as
# arguments of the decorator below, evaluated when the class is defined (by `bentoml serve`, then in each
# worker), so that is when $FEIJIAN_WORKERS and $FEIJIAN_TRACING can reach it, whichever way the service
# is started (`feijian serve`, `bentoml serve`, a Bento).
_options = service_options()


# Two workers on a 2-core machine; no per-request access log line (the audit log records what matters).
@bentoml.service(
    name="feijian",
    traffic={"timeout": 120},
    workers=_options.workers,
    logging={"access": {"enabled": False}},
    # Spans cost ~10 % of a cached request and go nowhere without an exporter; FEIJIAN_TRACING=1 keeps
    # them for a bureau that configures one (BentoML's tracing settings). The audit log is always on.
    tracing={} if _options.tracing else {"excluded_urls": ["/api/", "/ui/", "/docs"]},
)
@bentoml.asgi_app(page, path="/ui")
class Feijian:
    def __init__(self) -> None:
        # BentoML builds the app before the instance and serves requests only after this returns.
        bentoml_fixes.apply(bentoml_fixes_enabled())
        log_filter.install()
        self.state: ServingState = load_state(db_url=db_url_env())
        page.state.service = self
        # JSON bytes per (facilities excluded by the findings, request): a finding that changes no
        # exclusion (most are dated after as_of) leaves every cached plan valid.
        self._plans: OrderedDict[tuple[Exclusions, str], bytes] = OrderedDict()
        self._computing: dict[tuple[Exclusions, str], asyncio.Future[bytes]] = {}
        self._explained: dict[str, bytes] = {}
        self.state.explainer.warm()
        # The loaded state never changes: freeze it out of the collector, whose full passes over ~200k
        # objects took ~250 ms each and were the service's latency tail (p99 2-8x p50 without this).
        gc.collect()
        gc.freeze()
        atexit.register(gc.unfreeze)  # let interpreter shutdown release it as usual

    # --- planning ----------------------------------------------------------------------------------

    def plan_object(self, req: PlanRequest, excluded: Exclusions | None = None) -> Any:
        """The round plan (serving.plan.Plan) for a request; `excluded` as state.exclusions gives it."""
        from serving.plan import plan_round

        st = self.state
        if excluded is None:
            excluded = st.exclusions(req.exclude_days, req.clean_cooldown_days)
        scored = st.explainer.scored() if req.level == "facility" else st.explainer.scored_physicians()
        return plan_round(scored, st.inspections(), st.as_of, req.capacity, **req.plan_kwargs(), excluded=excluded)

    def _plan_bytes(self, req: PlanRequest, excluded: Exclusions) -> bytes:
        plan = self.plan_object(req, excluded)
        return _json({"targets": _records(plan.targets), "meta": plan.meta})

    async def plan_payload(self, req: PlanRequest) -> Response:
        """The plan as JSON bytes: from the cache, or computed in a worker thread so the event loop keeps
        answering cached requests meanwhile."""
        # All a plan reads of the findings is which facilities they exclude, so that is in the key.
        st, days = self.state, (req.exclude_days, req.clean_cooldown_days)
        excluded = st.current_exclusions(*days) or await anyio.to_thread.run_sync(st.exclusions, *days)
        key = (excluded, req.model_dump_json())
        hit = self._plans.get(key)
        if hit is None:
            pending = self._computing.get(key)
            if pending is not None:  # the same plan is being computed for another request: wait for it
                return Response(await asyncio.shield(pending), media_type="application/json")
            self._computing[key] = future = asyncio.get_running_loop().create_future()
            try:
                hit = self._plans[key] = await anyio.to_thread.run_sync(self._plan_bytes, req, excluded)
                future.set_result(hit)
            except BaseException as exc:
                future.set_exception(exc)
                future.exception()  # retrieved: no "never retrieved" warning when nobody waited
                raise
            finally:
                del self._computing[key]
            while len(self._plans) > MAX_CACHED:
                self._plans.popitem(last=False)  # the oldest computed first
        return Response(hit, media_type="application/json")

    @bentoml.api(route="/api/plan")
    @_guarded
    async def plan(self, req: PlanRequest, /) -> dict[str, Any]:
        """Plan the next round: ordered targets with risk, expected recovery, top reasons; the expected total."""
        return await self.plan_payload(req)  # type: ignore[return-value]  # JSON bytes, served as they are

    # --- scoring and explanations ------------------------------------------------------------------

    @bentoml.api(route="/api/score")
    @_guarded
    def score(self, req: ScoreRequest, /) -> dict[str, Any]:
        """Score feature rows in one batch (the bundle's columns; missing columns are an error)."""
        frame = pd.DataFrame(req.rows)
        scores = self.state.bundle.predict_frame(frame)
        return {"model_version": self.state.bundle.version, "scores": _records(scores)}

    @bentoml.api(route="/api/explain")
    @_guarded
    async def explain(self, req: ExplainRequest, /) -> dict[str, Any]:
        """One facility: contributions, reasons with peer comparison, evidence summary, physicians, history."""
        # An explanation reads only the snapshot, the model and the ingested history: no findings version.
        hit = self._explained.get(req.code)
        if hit is None:
            if len(self._explained) > MAX_CACHED * 16:
                self._explained.clear()
            explain = self.state.explainer.explain
            hit = self._explained[req.code] = _json(await anyio.to_thread.run_sync(explain, req.code))
        return Response(hit, media_type="application/json")  # type: ignore[return-value]

    @bentoml.api(route="/api/explain_physician")
    @_guarded
    def explain_physician(self, req: ExplainRequest, /) -> dict[str, Any]:
        return self.state.explainer.explain_physician(req.code)

    @bentoml.api(route="/api/evidence")
    @_guarded
    def evidence(self, req: EvidenceRequest, /) -> dict[str, Any]:
        """The suspicious-claim list (疑点清单) of one facility, optionally one rule; pseudonymised."""
        rows = self.state.explainer.evidence(req.code, req.rule_id)
        return {"code": req.code, "n": len(rows), "rows": _records(rows.head(req.limit))}

    # --- findings -------------------------------------------------------------------------------------

    @bentoml.api(route="/api/findings")
    @_guarded
    def findings(self, finding: FindingIn, /, ctx: bentoml.Context) -> dict[str, Any]:
        """Record an inspection's outcome; the next `feijian train` learns from it."""
        who = _principal(ctx)
        known = set(self.state.facilities["fixmedins_code"]) if not self.state.facilities.empty else None
        new = record(self.state.db, finding, who.name if who else "unknown", known)
        self.state.findings_recorded()  # this worker's next plan sees it
        return {"insp_id": finding.insp_id, "created": new}

    @bentoml.api(route="/api/burden")
    @_guarded
    def burden(self) -> dict[str, Any]:
        """No-finding rate and repeat-inspection rate by region, level and ownership."""
        return burden(self.state.inspections(), self.state.facilities)

    @bentoml.api(route="/api/info")
    @_guarded
    def info(self) -> dict[str, Any]:
        """Model version, snapshot and what the page needs to build its filters."""
        st = self.state
        fac = st.facilities
        return {
            "model_version": st.bundle.version,
            "snapshot_id": st.snapshot_meta["snapshot_id"],
            "as_of": st.snapshot_meta["as_of"],
            "regions": sorted(fac["admdvs"].dropna().unique().tolist()) if not fac.empty else [],
            "types": sorted(fac["fixmedins_type"].dropna().unique().tolist()) if not fac.empty else [],
            "levels": sorted(fac["hosp_lv"].dropna().unique().tolist()) if not fac.empty else [],
            "labels": {"type": FIXMEDINS_TYPE, "level": HOSP_LV, "ownership": OWNERSHIP},
        }


Feijian.add_asgi_middleware(GuardMiddleware)  # reads the workspace and database settings when the app is built
