"""Who may call what: every route of the service, declared once.

`ROUTES` names each route (method and template, as the router spells it) with the right it needs
or `OPEN`; `ROLES` says which rights each role holds. The guard (serving.middleware) reads both
for every request, /metrics labels requests by `route_label`, and tests/test_serving_routes.py
walks the running service's routes against them. A route not named here is refused (fail closed):
adding an endpoint without a line here makes it unreachable, not public.

What the rights mean (roles: see serving.auth):
  plan            the next round's ranked list — /api/plan and its Excel and PDF downloads
  explain         one facility's or physician's risk, rank, reasons and rule-hit summary
  evidence        the claim-level suspicious list (疑点清单)
  report          a facility's report; its claim rows only with `evidence` as well
  score           batch scoring of feature rows the caller sends
  findings_write  record an inspection's outcome
  round_save      save a planned round as a record (it can then only be superseded)
  rounds          read saved rounds and their picks: the list an inspection team carries out
  burden          no-finding and repeat-inspection rates by region, level and ownership
  meta            model version, filters, API schema (no facility data)
  metrics         Prometheus metrics (request counts and latencies per route template)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from starlette.routing import compile_path

OPEN = "open"  # no token needed: health probes and the page's static shell, which hold no data
RIGHTS = ("plan", "explain", "evidence", "report", "score", "findings_write", "round_save", "rounds", "burden",
          "meta", "metrics")  # fmt: skip
ROLES: dict[str, frozenset[str]] = {
    "planner": frozenset({"plan", "explain", "report", "round_save", "rounds", "burden", "meta"}),
    "supervisor": frozenset({"explain", "evidence", "report", "findings_write", "rounds", "burden", "meta"}),
    "analyst": frozenset({"score", "burden", "meta"}),
    "monitor": frozenset({"metrics"}),
    "admin": frozenset(RIGHTS),
}
ROLE_LABELS = {
    "planner": "检查计划员",
    "supervisor": "监督检查员",
    "analyst": "数据分析员",
    "monitor": "运行监控",
    "admin": "管理员",
}
UNMATCHED = "unmatched"  # the metrics label of every path no route template matches


@dataclass(frozen=True)
class Route:
    method: str  # GET also answers HEAD
    template: str  # Starlette syntax: {code}, {path:path}
    right: str  # one of RIGHTS, or OPEN
    audited: bool = False  # written to the audit log (who, what, status, response digest)


ROUTES: tuple[Route, ...] = (
    # health probes (BentoML)
    Route("GET", "/healthz", OPEN),
    Route("GET", "/livez", OPEN),
    Route("GET", "/readyz", OPEN),
    # BentoML's own pages: metrics, the OpenAPI document, its Swagger page and assets, the service schema
    Route("GET", "/metrics", "metrics"),
    Route("GET", "/docs.json", "meta"),
    Route("GET", "/schema.json", "meta"),
    Route("GET", "/", "meta"),
    Route("GET", "/static_content/{path:path}", "meta"),
    # the JSON API
    Route("POST", "/api/plan", "plan", audited=True),
    Route("POST", "/api/explain", "explain", audited=True),
    Route("POST", "/api/explain_physician", "explain", audited=True),
    Route("POST", "/api/evidence", "evidence", audited=True),
    Route("POST", "/api/score", "score", audited=True),
    Route("POST", "/api/findings", "findings_write", audited=True),
    Route("POST", "/api/rounds", "round_save", audited=True),
    Route("POST", "/api/rounds/list", "rounds", audited=True),
    Route("POST", "/api/round", "rounds", audited=True),
    Route("POST", "/api/burden", "burden", audited=True),
    Route("POST", "/api/info", "meta", audited=True),
    # the planners' page (serving.web.app): its static shell, then the downloads
    Route("GET", "/ui/", OPEN),
    Route("GET", "/ui/static/app.js", OPEN),
    Route("GET", "/ui/static/app.css", OPEN),
    Route("POST", "/ui/download/plan", "plan", audited=True),
    Route("POST", "/ui/download/round_report", "plan", audited=True),
    Route("GET", "/ui/download/facility_report/{code}", "report", audited=True),
    Route("GET", "/ui/download/evidence/{code}", "evidence", audited=True),
)


def allowed(role: str, right: str) -> bool:
    return right == OPEN or right in ROLES.get(role, frozenset())


def roles_with(right: str) -> list[str]:
    return [r for r, rights in ROLES.items() if right in rights]


@cache
def _compiled() -> tuple[tuple[re.Pattern[str], Route], ...]:
    return tuple((compile_path(r.template)[0], r) for r in ROUTES)


def templates_for(path: str) -> list[Route]:
    """The routes whose template matches `path`, whatever their method."""
    return [r for rx, r in _compiled() if rx.match(path)]


def match(method: str, path: str) -> Route | None:
    """The route a request is for; None when no template matches (or the method is not named)."""
    method = "GET" if method == "HEAD" else method
    return next((r for r in templates_for(path) if r.method == method), None)


def route_label(path: str) -> str:
    """The template a path falls under, for metrics and logs: never the path itself (it holds facility codes)."""
    found = templates_for(path)
    return found[0].template if found else UNMATCHED
