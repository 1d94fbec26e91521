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
  cases           read cases (per pick of a saved round, or outside any round) and their timelines
  case_assign     open a saved round's cases or an outside inspection's case, assign a case's team
                  and date window (planners)
  case_work       move a case through the visit: on site, findings drafted, facility notified, its
                  statement or appeal recorded, the follow-up done (supervisors)
  case_decide     decide a case, order rectification, close it (supervisors); which transition needs
                  which right is declared once, in records.cases.TRANSITIONS; case_work also marks a
                  case's evidence lines (its worklist, read with `evidence`) confirmed or not a violation
  rule_quality    per rule and facility type, the share of checked hits confirmed (no facility named)
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
RIGHTS = ("plan", "explain", "evidence", "report", "score", "findings_write", "round_save", "rounds", "cases",
          "case_assign", "case_work", "case_decide", "rule_quality", "burden", "meta", "metrics")  # fmt: skip
ROLES: dict[str, frozenset[str]] = {
    "planner": frozenset({"plan", "explain", "report", "round_save", "rounds", "cases", "case_assign",
                          "rule_quality", "burden", "meta"}),
    "supervisor": frozenset({"explain", "evidence", "report", "findings_write", "rounds", "cases", "case_work",
                             "case_decide", "rule_quality", "burden", "meta"}),
    "analyst": frozenset({"score", "rule_quality", "burden", "meta"}),
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
# What each right lets a role do, as a person reads it (a refusal says which one is missing).
RIGHTS_ZH = {
    "plan": "生成检查计划",
    "explain": "查看机构与医师的风险说明",
    "evidence": "查看和下载疑点清单",
    "report": "下载机构报告",
    "score": "批量评分",
    "findings_write": "登记检查结果",
    "round_save": "保存检查批次",
    "rounds": "查看检查批次",
    "cases": "查看案件",
    "case_assign": "开立案件并分派检查组",
    "case_work": "办理现场检查、告知与复查",
    "case_decide": "作出处理决定、责令整改与结案",
    "rule_quality": "查看规则核查准确率",
    "burden": "查看检查负担统计",
    "meta": "查看模型与筛选信息",
    "metrics": "查看运行指标",
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
    Route("POST", "/api/search", "explain", audited=True),
    Route("POST", "/api/evidence", "evidence", audited=True),
    Route("POST", "/api/rings", "explain", audited=True),
    Route("POST", "/api/ring", "explain", audited=True),
    Route("POST", "/api/ring/evidence", "evidence", audited=True),
    Route("POST", "/api/score", "score", audited=True),
    Route("POST", "/api/findings", "findings_write", audited=True),
    Route("POST", "/api/rounds", "round_save", audited=True),
    Route("POST", "/api/rounds/list", "rounds", audited=True),
    Route("POST", "/api/round", "rounds", audited=True),
    Route("POST", "/api/cases/open", "case_assign", audited=True),
    Route("POST", "/api/cases/outside", "case_assign", audited=True),
    Route("POST", "/api/cases/list", "cases", audited=True),
    Route("POST", "/api/case", "cases", audited=True),
    Route("POST", "/api/cases/move", "cases", audited=True),  # the transition's own right is checked too
    Route("POST", "/api/case/lines", "evidence", audited=True),
    Route("POST", "/api/case/lines/mark", "case_work", audited=True),
    Route("POST", "/api/rules/quality", "rule_quality", audited=True),
    Route("POST", "/api/burden", "burden", audited=True),
    Route("POST", "/api/info", "meta", audited=True),
    # the planners' page (serving.web.app): its static shell, then the downloads
    Route("GET", "/ui/", OPEN),
    Route("GET", "/ui/facility/{code}", OPEN),  # the same shell; the page then asks /api/explain
    Route("GET", "/ui/static/app.js", OPEN),
    Route("GET", "/ui/static/app.css", OPEN),
    Route("GET", "/ui/static/vendor/echarts.min.js", OPEN),
    Route("POST", "/ui/download/plan", "plan", audited=True),
    Route("POST", "/ui/download/round_report", "plan", audited=True),
    Route("GET", "/ui/download/facility_report/{code}", "report", audited=True),
    Route("GET", "/ui/download/evidence/{code}", "evidence", audited=True),
    Route("GET", "/ui/download/ring_evidence/{ring_id}", "evidence", audited=True),
    Route("GET", "/ui/download/case_notice/{case_id}", "cases", audited=True),
)


def allowed(role: str, right: str) -> bool:
    return right == OPEN or right in ROLES.get(role, frozenset())


def roles_with(right: str) -> list[str]:
    return [r for r, rights in ROLES.items() if right in rights]


def forbidden_zh(role: str, right: str) -> str:
    """A refusal in Chinese: which role, what it may not do, who may."""
    who = "、".join(ROLE_LABELS[r] for r in roles_with(right) if r != "admin")
    refusal = f"当前角色（{ROLE_LABELS.get(role, role)}）无权{RIGHTS_ZH.get(right, right)}"
    return refusal + (f"，可由{who}操作" if who else "")


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
