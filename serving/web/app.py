"""The planners' page and its file downloads, mounted by the service under /ui.

The page itself is a static shell (no data): it asks for a token, keeps it in the tab's
sessionStorage, and calls the JSON API with it. Downloads (plan and evidence as Excel, reports as
PDF/HTML) are POST/GET routes here; the service's middleware checks their token and role and
audits them like the API (serving.permissions names each route). A facility report keeps its claim
rows (疑点清单) for roles with the evidence right only, as /api/evidence does. Request errors never
quote the request body back.
"""

from __future__ import annotations

import tempfile
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response

from feijian.errors import FeijianError
from serving import permissions
from serving.messages import message_zh, validation_zh
from serving.schemas import PlanRequest, RingId

RING_ID = RingId.model_json_schema()["properties"]["ring_id"]["pattern"]  # ^RG-[0-9A-F]{8}$
MEDIA = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
}


def _static(name: str) -> str:
    return resources.files("serving.web").joinpath("static", name).read_text(encoding="utf-8")


def _file(path: Path, filename: str) -> Response:
    kind = path.suffix.lstrip(".")
    return Response(
        path.read_bytes(),
        media_type=MEDIA.get(kind, "application/octet-stream"),
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


def may_read_claims(request: Request) -> bool:
    principal = request.scope.get("state", {}).get("principal")
    return principal is not None and permissions.allowed(principal.role, "evidence")


async def bad_request(_: Request, exc: Exception) -> JSONResponse:
    """400 naming each bad field and why, like the API; never the value sent (FastAPI's default echoes it)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", ""),
               "ctx": {k: str(v) for k, v in (e.get("ctx") or {}).items()}} for e in errors]  # fmt: skip
    return JSONResponse({"error": f"{len(detail)} validation error(s) in the request", "detail": detail,
                         "message": validation_zh(detail)}, 400)  # fmt: skip


class Failed(HTTPException):
    """An HTTP error with its Chinese message (serving.messages)."""

    def __init__(self, status: int, error: str, zh: str | None = None) -> None:
        super().__init__(status, error)
        self.zh = zh


async def failed(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    zh = getattr(exc, "zh", None)
    body = {"error": str(exc.detail), "message": message_zh(exc.status_code, zh), "status": exc.status_code}
    return JSONResponse(body, exc.status_code)


def make_page_app() -> FastAPI:
    app = FastAPI(title="feijian page", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_exception_handler(RequestValidationError, bad_request)
    app.add_exception_handler(HTTPException, failed)

    def service(request: Request) -> Any:
        svc = getattr(request.app.state, "service", None)
        if svc is None:
            raise Failed(503, "service is starting", "服务正在启动，请稍后再试")
        return svc

    def fail(exc: FeijianError) -> HTTPException:
        return Failed(exc.http_status, str(exc), exc.zh)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return _static("index.html")

    @app.get("/facility/{code}", response_class=HTMLResponse)
    def facility_page(code: str) -> str:
        return _static("index.html")  # the shell; app.js reads the code from the address

    @app.get("/static/vendor/echarts.min.js")
    def echarts_js() -> Response:
        return Response(_static("vendor/echarts.min.js"), media_type="text/javascript; charset=utf-8")

    @app.get("/static/app.js")
    def app_js() -> Response:
        return Response(_static("app.js"), media_type="text/javascript; charset=utf-8")

    @app.get("/static/app.css")
    def app_css() -> Response:
        return Response(_static("app.css"), media_type="text/css; charset=utf-8")

    def round_file(req: PlanRequest, request: Request, kind: str, filename: str) -> Response:
        from serving.reports.round import write_round_report

        svc = service(request)
        try:
            plan = svc.plan_object(req)
            with tempfile.TemporaryDirectory() as tmp:
                return _file(write_round_report(plan, svc.state.explainer, Path(tmp), formats=(kind,))[kind], filename)
        except FeijianError as exc:
            raise fail(exc) from None

    @app.post("/download/plan")
    def download_plan(req: PlanRequest, request: Request) -> Response:
        return round_file(req, request, "xlsx", "检查计划.xlsx")

    @app.post("/download/round_report")
    def download_round_report(req: PlanRequest, request: Request) -> Response:
        return round_file(req, request, "pdf", "检查计划报告.pdf")

    @app.get("/download/facility_report/{code}")
    def download_facility_report(code: str, request: Request, fmt: str = "pdf") -> Response:
        from serving.reports.facility import write_facility_report

        if fmt not in ("pdf", "html", "xlsx"):
            raise Failed(400, f"fmt must be pdf, html or xlsx; got {fmt!r}", "文件格式应为 pdf、html 或 xlsx")
        svc = service(request)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                paths = write_facility_report(svc.state.explainer, code, Path(tmp), claims=may_read_claims(request))
                if fmt not in paths:
                    raise Failed(404, f"no {fmt} report for {code}", f"机构 {code} 没有 {fmt} 格式的报告")
                return _file(paths[fmt], f"{code}_报告.{fmt}")
        except FeijianError as exc:
            raise fail(exc) from None

    @app.get("/download/case_notice/{case_id}")
    def download_case_notice(case_id: str, request: Request, kind: str = "decision") -> Response:
        from serving.reports.notices import KINDS, write_notice

        svc = service(request)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                out = write_notice(svc.state.db, case_id, kind, svc.state.facility_names, svc.state.explainer.rules,
                                   Path(tmp))
                return _file(out["pdf"], f"{case_id}_{KINDS[kind]}.pdf")
        except FeijianError as exc:
            raise fail(exc) from None

    @app.get("/download/evidence/{code}")
    def download_evidence(code: str, request: Request) -> Response:
        from serving.reports.facility import write_evidence_workbook

        svc = service(request)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                out = write_evidence_workbook(svc.state.explainer, code, Path(tmp) / "evidence.xlsx")
            except FeijianError as exc:
                raise fail(exc) from None
            return _file(out, f"{code}_疑点清单.xlsx")

    @app.get("/download/ring_evidence/{ring_id}")
    def download_ring_evidence(ring_id: Annotated[str, PathParam(pattern=RING_ID)], request: Request) -> Response:
        # a malformed id is a 400, as at /api/ring (the same pattern): never looked up, never quoted back
        from serving.rings import write_ring_workbook

        svc = service(request)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                out = write_ring_workbook(svc.state.explainer.rings, ring_id, Path(tmp) / "ring.xlsx")
            except FeijianError as exc:
                raise fail(exc) from None
            return _file(out, f"{ring_id}_团伙证据清单.xlsx")

    return app
