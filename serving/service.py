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
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import anyio
import bentoml
import pandas as pd
from starlette.responses import Response

from features.schema import AGREEMENT_ACTION, FIXMEDINS_TYPE, HOSP_LV, INSP_TYPE, OWNERSHIP, SELECTION, VIOLATION
from feijian.errors import FeijianError, InputError, NotFoundError
from feijian.settings import bentoml_fixes_enabled, db_url_env, service_options
from records import (
    STATES,
    VERDICTS,
    get_case,
    get_round,
    keep_lines,
    lines,
    list_cases,
    list_rounds,
    mark,
    open_cases,
    open_outside_case,
    summary,
)
from serving import bentoml_fixes, log_filter
from serving.cases import take_step
from serving.findings import FindingIn, burden, record
from serving.messages import message_zh
from serving.middleware import GuardMiddleware
from serving.permissions import ROLE_LABELS, ROLES
from serving.plan import frame_records, sanctioned
from serving.quality import quality_records
from serving.rings import RANKING_ZH as RINGS_RANKING_ZH
from serving.rings import unknown_ring
from serving.rounds import RoundRequest, save_plan
from serving.schemas import (
    CaseId,
    CaseMarks,
    CaseMove,
    CaseOpen,
    CaseOutside,
    CaseQuery,
    EvidenceRequest,
    ExplainRequest,
    PlanRequest,
    QualityQuery,
    RingId,
    RingQuery,
    RoundId,
    ScoreRequest,
    SearchRequest,
)
from serving.sources import history, identity_zh
from serving.state import Exclusions, ServingState, load_state
from serving.web.app import make_page_app

# What the page's model card shows of the champion's meta.json (training/bundle.py writes it).
MODEL_CARD = ("model_name", "trained_at", "run_id", "snapshot_as_of", "window_months", "n_examples", "n_serious",
              "calibration", "backtest_objective", "rules_version", "declaration_version", "code_version")  # fmt: skip
MAX_CACHED = 256  # distinct plan requests kept (explanations: 16× as many targets)
# A plan over this many candidates or fewer costs ≤ ~5 ms (1,573 physicians, capacity 500: 4.6 ms) and is
# computed on the event loop: under load, a worker thread's hand-offs of the GIL cost more than that
# (10-minute soak with findings arriving: plan p99 73 ms in a thread, 36 ms inline; docs/benchmarks.md).
INLINE_PLAN_ROWS = 5_000


def _failed(exc: FeijianError, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> Response:
    """A FeijianError as the API answers it: its status, the English message and the Chinese one.

    A method that takes the request context answers with the context's status, whatever the Response
    it returns says (BentoML sets one from the other), so the context gets the error's status too."""
    status = exc.http_status
    for ctx in (*args, *(kwargs or {}).values()):
        if isinstance(ctx, bentoml.Context):
            ctx.response.status_code = status
    body = {"error": str(exc), "message": message_zh(status, exc.zh), "status": status}
    return Response(_json(body), status_code=status, media_type="application/json")


def _guarded(fn: Any) -> Any:
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def inner_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except FeijianError as exc:
                return _failed(exc, args, kwargs)

        return inner_async

    @functools.wraps(fn)
    def inner(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FeijianError as exc:
            return _failed(exc, args, kwargs)

    return inner


def _with_points(payload: dict[str, Any], points: Any) -> None:
    """一医一档: each physician's points (记分) beside them: a facility's physicians their total and last
    record, a physician their every record (inspection, date, facility, points)."""
    doctors = payload.get("physicians") or ([payload["target"]] if "dr_code" in payload.get("target", {}) else [])
    codes = [d["dr_code"] for d in doctors]
    if not codes:
        return
    got = points(codes)
    for d in doctors:
        mine = got[got["dr_code"] == d["dr_code"]]
        d["points_total"] = int(mine["points"].sum())
        d["points_last"] = _jsonable(mine.iloc[0]["insp_date"]) if len(mine) else None
    if "dr_code" in payload.get("target", {}):
        payload["points"] = _jsonable(got[["insp_id", "insp_date", "fixmedins_code", "points"]].to_dict("records"))


def _principal(ctx: bentoml.Context) -> Any:
    return ctx.request.scope.get("state", {}).get("principal")


def _jsonable(payload: Any) -> Any:
    """Dates and times as ISO text, so BentoML's JSON encoder takes the records as they are."""
    return json.loads(_json(payload))


def _json(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, default=str).encode()


page = make_page_app()
# Read on import, and nothing else is: BentoML 1.4 takes the worker count and the tracing settings as
# arguments of the decorator below, evaluated when the class is defined (by `bentoml serve`, then in each
# worker), so that is when $FEIJIAN_WORKERS and $FEIJIAN_TRACING can reach it, whichever way the service
# is started (`feijian serve`, `bentoml serve`, a Bento).
_options = service_options()
T = TypeVar("T")


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
        self._computing: dict[Hashable, asyncio.Future[Any]] = {}  # what is being computed, for whom waits
        self._current: dict[tuple[int, int], Exclusions] = {}  # the exclusions last planned with, per window
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
        kwargs = req.plan_kwargs(st.explainer.rings.units())
        return plan_round(scored, st.inspections(), st.as_of, req.capacity, **kwargs, excluded=excluded)

    def _plan_bytes(self, req: PlanRequest, excluded: Exclusions) -> bytes:
        plan = self.plan_object(req, excluded)
        return _json({"targets": plan.records(), "meta": plan.meta})

    async def plan_payload(self, req: PlanRequest) -> Response:
        """The plan as JSON bytes: from the cache, or computed (in a worker thread when it is large, so the
        event loop keeps answering cached requests meanwhile)."""
        # All a plan reads of the findings is which facilities they exclude, so that is in the key.
        st, days = self.state, (req.exclude_days, req.clean_cooldown_days)
        excluded = st.current_exclusions(*days) or await self._once(("exclusions", days), st.exclusions, *days)
        self._forget_outdated(days, excluded)
        # sanctions come from the same findings: a back-dated termination changes the plan, not the sets
        in_force = frozenset(sanctioned(st.inspections(), st.as_of).items())
        key = (excluded, in_force, req.model_dump_json())
        hit = self._plans.get(key)
        if hit is None:
            if self._candidates(req) <= INLINE_PLAN_ROWS:
                hit = self._plans[key] = self._plan_bytes(req, excluded)
            else:
                hit = self._plans[key] = await self._once(key, self._plan_bytes, req, excluded)
            while len(self._plans) > MAX_CACHED:
                self._plans.popitem(last=False)  # the oldest computed first
        return Response(hit, media_type="application/json")

    def _candidates(self, req: PlanRequest) -> int:
        explainer = self.state.explainer
        return len(explainer.scored() if req.level == "facility" else explainer.scored_physicians())

    async def _once(self, key: Hashable, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) in a worker thread, once for all the requests that ask for `key` while it runs (after
        a finding, every connection asks at the same moment; each computing it would stall them all)."""
        pending = self._computing.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        self._computing[key] = future = asyncio.get_running_loop().create_future()
        try:
            value = await anyio.to_thread.run_sync(fn, *args)
            future.set_result(value)
            return value
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waited
            raise
        finally:
            del self._computing[key]

    def _forget_outdated(self, days: tuple[int, int], excluded: Exclusions) -> None:
        """Drop the plans cached under exclusions that a finding has since changed: they cannot be asked
        for again (unless a correction restores the old sets, and then they are recomputed)."""
        old = self._current.get(days)
        if old is excluded:
            return
        self._current[days] = excluded
        if old is not None and old not in self._current.values():
            for key in [k for k in self._plans if k[0] == old]:
                del self._plans[key]

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
        return {"model_version": self.state.bundle.version, "scores": frame_records(scores)}

    @bentoml.api(route="/api/explain")
    @_guarded
    async def explain(self, req: ExplainRequest, /) -> dict[str, Any]:
        """One facility: contributions, reasons with peer comparison, evidence summary, physicians, and its
        inspection history with the findings recorded through the service (at once, newest first)."""
        changes, recorded = self.state.recorded()
        # any recording or correction moves the findings' version: points corrected alone included
        key = (req.code, changes, self.state.findings_version())
        hit = self._explained.get(key)
        if hit is None:
            if len(self._explained) > MAX_CACHED * 16:
                self._explained.clear()

            def explain() -> bytes:
                payload = self.state.explainer.explain(req.code)
                payload["inspections"] = _jsonable(history(self.state.inspections(), req.code, recorded))
                _with_points(payload, self.state.points)
                return _json(payload)

            hit = self._explained[key] = await anyio.to_thread.run_sync(explain)
        return Response(hit, media_type="application/json")  # type: ignore[return-value]

    @bentoml.api(route="/api/search")
    @_guarded
    def search(self, req: SearchRequest, /) -> dict[str, Any]:
        """Facilities by part of their name or code: identity (names in Chinese) and risk, best match first."""
        found = self.state.explainer.search(req.q, req.limit)
        rows = [{**identity_zh(r, self.state.explainer.regions), "p_serious": r["p_serious"],
                 "risk_percentile": r["risk_percentile"], "expected_recovery": r["expected_recovery"]}
                for r in found.to_dict("records")]  # fmt: skip
        return {"q": req.q, "n": len(rows), "results": _jsonable(rows)}

    @bentoml.api(route="/api/explain_physician")
    @_guarded
    def explain_physician(self, req: ExplainRequest, /) -> dict[str, Any]:
        """One physician (一医一档): risk, reasons, rule hits, and every point recorded against them."""
        payload = self.state.explainer.explain_physician(req.code)
        _with_points(payload, self.state.points)
        return payload

    @bentoml.api(route="/api/evidence")
    @_guarded
    def evidence(self, req: EvidenceRequest, /) -> dict[str, Any]:
        """The suspicious-claim list (疑点清单) of one facility, optionally one rule; pseudonymised."""
        rows = self.state.explainer.evidence(req.code, req.rule_id)
        return {"code": req.code, "n": len(rows), "rows": frame_records(rows.head(req.limit))}

    # --- rings ----------------------------------------------------------------------------------------

    @bentoml.api(route="/api/rings")
    @_guarded
    def rings(self, req: RingQuery, /) -> dict[str, Any]:
        """The snapshot's suspected rings (疑似团伙), best expected recovery first: members, features,
        score, expected recovery and the reason in Chinese."""
        book = self.state.explainer.rings
        rows = book.table.head(req.limit)
        out = [{**r, "facilities": r["facilities"].split(";"),
                "names": [book.names.get(c, c) for c in r["facilities"].split(";")]} for r in frame_records(rows)]
        return {"n": len(book.table), "ranking_zh": RINGS_RANKING_ZH, "rings": out}

    @bentoml.api(route="/api/ring")
    @_guarded
    def ring(self, req: RingId, /) -> dict[str, Any]:
        """One ring: members (facilities with their risk, physicians), its features and the graph's edges."""
        found = self.state.explainer.rings.detail(req.ring_id)
        if found is None:
            raise unknown_ring(req.ring_id)
        return _jsonable(found)

    @bentoml.api(route="/api/ring/evidence")
    @_guarded
    def ring_evidence(self, req: RingId, /) -> dict[str, Any]:
        """The ring's claims to pull: its shared cards' visits at its members (persons pseudonymised)."""
        book = self.state.explainer.rings
        if req.ring_id not in set(book.table["ring_id"]):
            raise unknown_ring(req.ring_id)
        rows = book.evidence(req.ring_id)
        return {"ring_id": req.ring_id, "n": len(rows), "rows": frame_records(rows.head(req.limit))}

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

    # --- rounds ---------------------------------------------------------------------------------------

    @bentoml.api(route="/api/rounds")
    @_guarded
    async def save_round(self, req: RoundRequest, /, ctx: bentoml.Context) -> dict[str, Any]:
        """Plan a round as /api/plan does and save it as a record: its id, then the round as stored."""
        who = _principal(ctx)
        plan_req = req.plan_request()
        plan = await anyio.to_thread.run_sync(self.plan_object, plan_req)
        save = functools.partial(save_plan, self.state.db, plan, plan_req, self.state.snapshot_meta,
                                 who.name if who else "unknown", req.note, req.supersedes)  # fmt: skip
        round_id = await anyio.to_thread.run_sync(save)
        return self._round(round_id)

    @bentoml.api(route="/api/rounds/list")
    @_guarded
    def rounds(self) -> dict[str, Any]:
        """Every saved round, newest first: id, planning date, capacity, status (in force or superseded)."""
        return {"rounds": _jsonable(list_rounds(self.state.db))}

    @bentoml.api(route="/api/round")
    @_guarded
    def round_detail(self, req: RoundId, /) -> dict[str, Any]:
        """One saved round with its picks: rank, facility, pick (model / exploration), probability, reasons."""
        return self._round(req.round_id)

    def _round(self, round_id: str) -> dict[str, Any]:
        """A saved round with each pick's facility name, region, type and level beside its code."""
        r = get_round(self.state.db, round_id)
        fac = self.state.facilities
        about = fac.set_index("fixmedins_code").to_dict("index") if not fac.empty else {}
        for p in r["picks"]:
            info = about.get(p["fixmedins_code"], {})
            p.update({k: info.get(k) for k in ("fixmedins_name", "admdvs", "fixmedins_type", "hosp_lv")})
            p["admdvs_name"] = self.state.explainer.regions.get(str(p["admdvs"]), p["admdvs"])
        return _jsonable(r)

    # --- cases --------------------------------------------------------------------------------------

    @bentoml.api(route="/api/cases/open")
    @_guarded
    def open_cases(self, req: CaseOpen, /, ctx: bentoml.Context) -> dict[str, Any]:
        """A case per pick of a saved round (planned); opening again adds nothing. The round's cases."""
        who = _principal(ctx)
        ids = open_cases(self.state.db, req.round_id, who.name if who else "unknown", who.role if who else "")
        return {"round_id": req.round_id, "case_ids": ids,
                "cases": self._cases(list_cases(self.state.db, round_id=req.round_id))}

    @bentoml.api(route="/api/cases/outside")
    @_guarded
    def open_outside(self, req: CaseOutside, /, ctx: bentoml.Context) -> dict[str, Any]:
        """A case for an inspection outside any saved round (a tip-off, a routine or special check)."""
        who = _principal(ctx)
        role = who.role if who else ""
        if req.fixmedins_code not in self.state.facility_names:
            raise NotFoundError(f"facility {req.fixmedins_code!r} is not in the served snapshot",
                                zh=f"机构 {req.fixmedins_code} 不在当前数据中")
        case_id = open_outside_case(self.state.db, req.fixmedins_code, req.model_dump(exclude={"fixmedins_code"}),
                                    who.name if who else "unknown", role, ROLES.get(role, frozenset()))
        return self._cases([get_case(self.state.db, case_id)])[0]

    @bentoml.api(route="/api/cases/list")
    @_guarded
    def cases(self, req: CaseQuery, /) -> dict[str, Any]:
        """Cases by round and rank, filtered by state, a team member, or overdue (rectification past due,
        or a visit window ended before the visit began)."""
        rows = list_cases(self.state.db, req.state, req.member, req.overdue, req.round_id)
        return {"n": len(rows), "cases": self._cases(rows), "states": STATES}

    @bentoml.api(route="/api/case")
    @_guarded
    def case(self, req: CaseId, /) -> dict[str, Any]:
        """One case with its timeline: every transition, who made it, when, and what it carried."""
        return self._cases([get_case(self.state.db, req.case_id)])[0]

    @bentoml.api(route="/api/cases/move")
    @_guarded
    def move_case(self, req: CaseMove, /, ctx: bentoml.Context) -> dict[str, Any]:
        """Move a case along a declared transition (records.cases.TRANSITIONS) the caller's role may make."""
        who = _principal(ctx)
        known = set(self.state.facilities["fixmedins_code"]) if not self.state.facilities.empty else None
        if req.decision is not None and req.decision.points:
            code = get_case(self.state.db, req.case_id)["fixmedins_code"]
            strangers = sorted({str(p.get("dr_code")) for p in req.decision.points}
                               - self.state.explainer.physician_codes(code))
            if strangers:
                raise InputError(f"decision.points: {', '.join(strangers)} not physicians of {code} in the snapshot",
                                 zh=f"记分医师 {'、'.join(strangers)} 不是本机构（{code}）的医师")
        moved, finding = take_step(self.state.db, req.case_id, req.target, who.name if who else "unknown",
                                   who.role if who else "", decision=req.decision, note=req.note, team=req.team,
                                   window_begin=req.window_begin, window_end=req.window_end,
                                   due_date=req.due_date, known=known)  # fmt: skip
        if finding is not None:
            self.state.findings_recorded()
        return self._cases([moved])[0]

    @bentoml.api(route="/api/case/lines")
    @_guarded
    def case_lines(self, req: CaseId, /) -> dict[str, Any]:
        """The case's 疑点清单 as a worklist: kept with the case the first time it is asked for, then each
        line with its verdict; and the tally (confirmed, rejected, unchecked, amounts)."""
        case = get_case(self.state.db, req.case_id)
        keep_lines(self.state.db, req.case_id, self.state.explainer.evidence(case["fixmedins_code"]))
        return _jsonable({"case_id": req.case_id, "lines": lines(self.state.db, req.case_id),
                          "summary": summary(self.state.db, req.case_id), "verdicts": VERDICTS})

    @bentoml.api(route="/api/case/lines/mark")
    @_guarded
    def mark_lines(self, req: CaseMarks, /, ctx: bentoml.Context) -> dict[str, Any]:
        """Mark lines of a case's worklist confirmed / not a violation / unchecked (all or none); the tally."""
        who = _principal(ctx)
        return _jsonable(mark(self.state.db, req.case_id, [m.model_dump() for m in req.marks],
                              who.name if who else "unknown"))

    @bentoml.api(route="/api/rules/quality")
    @_guarded
    def rules_quality(self, req: QualityQuery, /) -> dict[str, Any]:
        """Per rule (and facility type), the checked hits, the share confirmed, the amounts; flagged for review."""
        from features.rules.changes import effective_version, read_changes, summary_zh
        from records.worklist import REVIEW_MAX_CONFIRMED, REVIEW_MIN_CHECKED

        ws = self.state.explainer.workspace
        return {"rules": quality_records(self.state.db, self.state.facilities, self.state.explainer.rules,
                                         req.by_type, req.by_quarter),
                "review_min_checked": REVIEW_MIN_CHECKED, "review_max_confirmed": REVIEW_MAX_CONFIRMED,
                "rules_version": self.state.snapshot_meta.get("rules_version"),  # what the served snapshot ran
                "workspace_rules_version": effective_version(ws),  # with changes since, for the next build
                "changes": [{**c, "summary_zh": summary_zh(c)} for c in reversed(read_changes(ws))]}

    def _cases(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Cases with their facility's name beside its code."""
        names = self.state.facility_names
        return _jsonable([{**r, "fixmedins_name": names.get(r["fixmedins_code"])} for r in rows])

    @bentoml.api(route="/api/burden")
    @_guarded
    def burden(self) -> dict[str, Any]:
        """No-finding rate and repeat-inspection rate by region, level and ownership."""
        return burden(self.state.inspections(), self.state.facilities)

    @bentoml.api(route="/api/info")
    @_guarded
    def info(self, ctx: bentoml.Context) -> dict[str, Any]:
        """Model version, snapshot, what the page needs to build its filters, and who is asking: the role
        and its rights, so the page shows each role only what it may do."""
        st = self.state
        fac = st.facilities
        who = _principal(ctx)
        role = who.role if who else None
        return {
            "role": role,
            "role_zh": ROLE_LABELS.get(role or "", ""),
            "user": who.name if who else None,
            "rights": sorted(ROLES.get(role or "", frozenset())),
            "model": {k: st.bundle.meta.get(k) for k in MODEL_CARD},
            "model_version": st.bundle.version,
            "snapshot_id": st.snapshot_meta["snapshot_id"],
            "as_of": st.snapshot_meta["as_of"],
            "regions": sorted(fac["admdvs"].dropna().unique().tolist()) if not fac.empty else [],
            "types": sorted(fac["fixmedins_type"].dropna().unique().tolist()) if not fac.empty else [],
            "levels": sorted(fac["hosp_lv"].dropna().unique().tolist()) if not fac.empty else [],
            "labels": {"type": FIXMEDINS_TYPE, "level": HOSP_LV, "ownership": OWNERSHIP,
                       "region": st.explainer.regions, "selection": SELECTION, "insp_type": INSP_TYPE,
                       "violation": VIOLATION, "agreement_action": AGREEMENT_ACTION},
        }


Feijian.add_asgi_middleware(GuardMiddleware)  # reads the workspace and database settings when the app is built
