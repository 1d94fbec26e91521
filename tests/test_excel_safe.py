"""Nothing a user opens in Excel carries a live formula: OWASP's CSV-injection payloads, planted in a
claims export and in what the reports and downloads show, come out as text with a leading quote, while
numbers (a negative amount too) stay numbers.

Workbooks are opened with openpyxl (formulas kept: `data_only=False`) and their sheet XML is searched
for `<f>`; CSVs are read back with the csv module.
"""

from __future__ import annotations

import copy
import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openpyxl
import pandas as pd
import pytest
from openpyxl.utils.escape import unescape

PAYLOADS = ["=cmd|' /C calc'!A0", "+SUM(1+1)", "-2+3", "@SUM(1)", '=HYPERLINK("http://x","y")', "\t=1", "\r=1"]
CSV_PAYLOADS = [*PAYLOADS, ",=1", "x,=1"]
DANGER = ("=", "+", "-", "@", "\t", "\r")


def is_number_text(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return s.strip() == s


@dataclass(frozen=True)
class Cell:
    coordinate: str
    column: int
    value: Any
    data_type: str
    is_date: bool


def xlsx_cells(path: Path) -> list[Cell]:
    """Every cell of every sheet; fails on any formula, in openpyxl's view or in the sheet XML."""
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                xml = z.read(name).decode("utf-8")
                assert "<f>" not in xml and "<f " not in xml, f"{path.name}:{name} holds a formula"
    book = openpyxl.load_workbook(path, data_only=False)
    cells = []
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", f"{path.name} {c.coordinate}: formula {c.value!r}"
                v = unescape(c.value) if isinstance(c.value, str) else c.value  # the XML spells a CR _x000D_
                if isinstance(v, str):
                    assert not v.startswith(DANGER) or is_number_text(v), f"{c.coordinate}: {v!r}"
                cells.append(Cell(c.coordinate, c.column, v, c.data_type, c.is_date))
    return cells


def csv_cells(path: Path) -> list[list[str]]:
    return csv_text_cells(path.read_bytes().decode("utf-8"))


def csv_text_cells(text: str) -> list[list[str]]:
    """The cells of a CSV; fails on a missing BOM or on any cell Excel would read as a formula."""
    assert text.startswith("\ufeff"), "Excel needs the BOM to read the Chinese as UTF-8"
    rows = list(csv.reader(io.StringIO(text[1:], newline="")))
    for row in rows:
        for v in row:
            assert not v.startswith(DANGER) or is_number_text(v), f"cell {v!r} would run as a formula"
    return rows


def shown(payload: str) -> str:
    """What a user sees for a payload: the text as it came, after the standard leading quote."""
    return "'" + payload


# --- the writer itself ---------------------------------------------------------------------------------
def test_safe_text_quotes_formula_starts_and_leaves_numbers_and_plain_text() -> None:
    from feijian.tabular import safe_text

    for p in PAYLOADS:
        assert safe_text(p) == shown(p)
    for plain in ("第一人民医院", "-12.5", "+3", "1e5", ",=1", "a=b", "", "2024-01-05"):
        assert safe_text(plain) == plain
    assert safe_text("-1-1") == "'-1-1" and safe_text("-12.5\n=1") == "'-12.5\n=1"


def test_workbook_keeps_numbers_and_dates_and_neutralises_text(tmp_path: Path) -> None:
    from feijian.tabular import write_xlsx

    frame = pd.DataFrame({"名称": PAYLOADS, "金额": [-12.5, 3, float("nan"), 1, 2, 4, 5], "标记": [True] * 7,
                          "时间": pd.Timestamp("2024-01-05 09:00"), "类别": pd.Categorical(PAYLOADS)})
    cells = xlsx_cells(write_xlsx({"表": frame, "=SUM(1)": frame.head(1)}, tmp_path / "t.xlsx"))
    values = {c.coordinate: c for c in cells}
    assert [values[f"A{i}"].value for i in range(2, 9)] == [shown(p) for p in PAYLOADS]
    assert [values[f"E{i}"].value for i in range(2, 9)] == [shown(p) for p in PAYLOADS]
    assert values["B2"].value == -12.5 and values["B2"].data_type == "n" and values["B4"].value is None
    assert values["C2"].value is True and values["D2"].is_date


def test_csv_quotes_text_and_keeps_negative_numbers(tmp_path: Path) -> None:
    from feijian.tabular import csv_text, write_csv

    frame = pd.DataFrame({"名称": CSV_PAYLOADS, "金额": [-12.5] * len(CSV_PAYLOADS), "原文": "-10.00",
                          "类别": pd.Categorical(CSV_PAYLOADS)})
    rows = csv_cells(write_csv(frame, tmp_path / "t.csv"))
    assert rows[0] == ["名称", "金额", "原文", "类别"]
    expect = [p if p.startswith(",") or p.startswith("x") else shown(p) for p in CSV_PAYLOADS]
    assert [r[0] for r in rows[1:]] == expect and [r[3] for r in rows[1:]] == expect
    assert {r[1] for r in rows[1:]} == {"-12.5"} and {r[2] for r in rows[1:]} == {"-10.00"}
    assert csv_cells(write_csv(frame.head(0), tmp_path / "empty.csv")) == [rows[0]]  # the header alone
    assert csv_text_cells(csv_text(frame)) == rows


# --- the round workbook and the service's downloads ------------------------------------------------------
def taint_scored(s: pd.DataFrame) -> pd.DataFrame:
    """Scored facilities named with the payloads, their reasons led by one."""
    n = min(len(s), len(PAYLOADS))
    s.loc[: n - 1, "fixmedins_name"] = PAYLOADS[:n]
    s["top_reasons"] = [[PAYLOADS[i % len(PAYLOADS)], "正常理由"] for i in range(len(s))]
    return s


class Tainted:
    """The real explainer, but the facilities are named with the payloads and the evidence and reasons
    carry them too (what a hostile claims export would put there)."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def scored(self) -> pd.DataFrame:
        return taint_scored(self._real.scored())

    def evidence(self, code: str, rule_id: str | None = None) -> pd.DataFrame:
        ev = self._real.evidence(code, rule_id).copy()
        assert len(ev) >= 2
        for k, col in enumerate(("mdtrt_id", "dr_code", "med_list_codg", "reason")):
            ev[col] = [PAYLOADS[(i + k) % len(PAYLOADS)] for i in range(len(ev))]
        ev.loc[0, "amount_at_risk"] = -12.5
        return ev

    def explain(self, code: str, *args: Any, **kw: Any) -> dict[str, Any]:
        x = copy.deepcopy(self._real.explain(code, *args, **kw))
        x["reasons"][0]["text"] = PAYLOADS[4]
        x["evidence_summary"][0]["physicians"][0]["dr_code"] = PAYLOADS[0]
        return x


@dataclass
class Page:
    client: Any
    code: str


@pytest.fixture(scope="module")
def page(explainer: Any) -> Page:
    """The service's page app (the download routes as served), on a stub service over the tainted explainer."""
    from starlette.testclient import TestClient

    from serving.plan import plan_round
    from serving.web.app import make_page_app

    tainted = Tainted(explainer)

    def plan_object(req: Any) -> Any:
        return plan_round(tainted.scored(), tainted.inspections(), tainted.as_of, req.capacity,
                          exploration_share=req.exploration_share, seed=1)

    app = make_page_app()
    app.state.service = SimpleNamespace(state=SimpleNamespace(explainer=tainted), plan_object=plan_object)
    code = next(c for c in explainer.scored()["fixmedins_code"] if len(explainer.evidence(c)) >= 2)

    async def as_supervisor(scope: dict, receive: Any, send: Any) -> None:
        """What the service's guard hands the page: a principal with the evidence right (claim rows shown)."""
        from serving.auth import Principal

        scope.setdefault("state", {})["principal"] = Principal("t1", "测试", "supervisor")
        await app(scope, receive, send)

    return Page(TestClient(as_supervisor), code)


def _download(page: Page, tmp_path: Path, method: str, url: str, **kw: Any) -> Path:
    r = page.client.request(method, url, **kw)
    assert r.status_code == 200, r.text[:300]
    out = tmp_path / "download.xlsx"
    out.write_bytes(r.content)
    return out


@pytest.mark.slow
def test_plan_download_has_no_formula(page: Page, tmp_path: Path) -> None:
    path = _download(page, tmp_path, "POST", "/download/plan", json={"capacity": 10, "exploration_share": 0})
    cells = xlsx_cells(path)
    names = {c.value for c in cells if c.column == 3}
    assert {shown(p) for p in PAYLOADS} <= names  # 机构名称, readable behind the quote
    sheet = pd.read_excel(path, sheet_name="检查名单")
    for col in ("预计追回金额（元）", "严重问题概率"):  # numbers stay numbers
        assert pd.api.types.is_float_dtype(sheet[col]), col


@pytest.mark.slow
def test_evidence_download_has_no_formula(page: Page, tmp_path: Path) -> None:
    cells = xlsx_cells(_download(page, tmp_path, "GET", f"/download/evidence/{page.code}"))
    texts = {c.value for c in cells if isinstance(c.value, str)}
    assert {shown(p) for p in PAYLOADS} <= texts
    assert -12.5 in {c.value for c in cells if c.data_type == "n"}  # a negative amount stays a number


@pytest.mark.slow
def test_facility_report_workbook_has_no_formula(page: Page, tmp_path: Path) -> None:
    path = _download(page, tmp_path, "GET", f"/download/facility_report/{page.code}?fmt=xlsx")
    cells = xlsx_cells(path)
    texts = {c.value for c in cells if isinstance(c.value, str)}
    assert {shown(PAYLOADS[4]), shown(PAYLOADS[0])} <= texts  # 入选理由, 主要医师
    assert -12.5 in {c.value for c in cells if c.data_type == "n"}


@pytest.mark.slow
def test_round_report_workbook_has_no_formula(explainer: Any, tmp_path: Path) -> None:
    from serving.plan import plan_round
    from serving.reports.round import write_round_report

    t = Tainted(explainer)
    plan = plan_round(t.scored(), t.inspections(), t.as_of, 10, exploration_share=0.0, seed=1)
    cells = xlsx_cells(write_round_report(plan, t, tmp_path)["xlsx"])  # type: ignore[arg-type]
    assert shown(PAYLOADS[0]) in {c.value for c in cells}


@pytest.mark.slow
def test_plan_cli_csv_has_no_formula(bundled: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """`feijian plan --format csv` (stdout, for a pipe or a file opened in Excel)."""
    from typer.testing import CliRunner

    from feijian.cli import app
    from serving.explain import Explainer
    from tests import serving_setup

    real = Explainer.scored
    monkeypatch.setattr(Explainer, "scored", lambda self: taint_scored(real(self)))
    models = serving_setup.mark(bundled)
    res = CliRunner().invoke(app, ["plan", "--workspace", str(bundled.workspace), "--models", str(models),
                                   "--capacity", "10", "--exploration-share", "0", "--format", "csv"])
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(io.StringIO(res.stdout, newline="")))
    for row in rows:
        for v in row:
            assert not v.startswith(DANGER) or is_number_text(v), f"cell {v!r} would run as a formula"
    header = rows[0]
    assert {shown(p) for p in PAYLOADS} <= {r[header.index("name")] for r in rows[1:]}
    assert all(is_number_text(r[header.index("expected_recovery")]) for r in rows[1:])


# --- the ingest quarantine, from a real ingest of a hostile export -------------------------------------
@pytest.fixture(scope="module")
def hostile_ingest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from features.ingest.pipeline import ingest
    from tests.test_ingest_data import NOW, export_rows, write_csv

    mp = pytest.MonkeyPatch()
    mp.setenv("FEIJIAN_PSEUDONYM_KEY", "test-key-0123456789abcdef")
    root = tmp_path_factory.mktemp("hostile")
    rows = export_rows()
    rows["fixmedins"][0]["fixmedins_name"] = PAYLOADS[0]  # accepted: names are free text
    for i, p in enumerate(CSV_PAYLOADS):  # rejected (open_beds is not an integer): quarantined with the payload
        rows["fixmedins"].append(dict(rows["fixmedins"][1], fixmedins_code=f"H9{i}", fixmedins_name=p, open_beds=p))
    rows["setl_d"].append(dict(rows["setl_d"][0], setl_id="S9", medfee_sumamt="-10.00"))  # negative, no refund
    for name, rs in rows.items():
        write_csv(root / "src" / f"{name}.csv", rs)
    try:
        ingest(root / "src", root / "ws", max_reject_share=1.0, now=NOW)
    finally:
        mp.undo()
    return root / "ws"


def _quarantine_csv(ws: Path, table: str) -> list[list[str]]:
    files = list((ws / "quarantine").glob(f"*/{table}.csv"))
    assert len(files) == 1, files
    return csv_cells(files[0])


def test_quarantine_csv_has_no_formula_and_keeps_numbers(hostile_ingest: Path) -> None:
    import duckdb

    names = dict(duckdb.sql(f"SELECT fixmedins_code, fixmedins_name FROM "
                            f"read_parquet('{hostile_ingest}/raw/fixmedins/**/*.parquet')").fetchall())
    assert names["H001"] == PAYLOADS[0]  # stored as it came; only what Excel opens is neutralised

    rows = _quarantine_csv(hostile_ingest, "fixmedins")
    header, body = rows[0], rows[1:]
    assert len(body) == len(CSV_PAYLOADS)  # one row each: a comma in a value does not split the cell
    names_seen = [r[header.index("fixmedins_name")] for r in body]
    assert names_seen == [shown(p) for p in PAYLOADS] + [",=1", "x,=1"]  # readable behind the quote

    rows = _quarantine_csv(hostile_ingest, "setl_d")
    header, body = rows[0], rows[1:]
    s9 = next(r for r in body if r[header.index("setl_id")] == "S9")
    assert s9[header.index("medfee_sumamt")] == "-10.00" and s9[header.index("value")] == "-10.00"
    assert s9[header.index("row")].isdigit()


def test_no_other_writer_of_excel_files() -> None:
    """Workbooks and user CSVs are written by feijian.tabular alone (a new to_excel/to_csv fails here)."""
    root = Path(__file__).resolve().parents[1]
    found = []
    for pkg in ("features", "training", "serving", "feijian", "simulator"):
        for path in (root / pkg).rglob("*.py"):
            if path.name == "tabular.py":
                continue
            text = path.read_text(encoding="utf-8")
            for needle in (".to_excel(", "ExcelWriter", "xlsxwriter", ".to_csv(", "csv.writer", "FORMAT csv"):
                if needle in text:
                    found.append(f"{path.relative_to(root)}: {needle}")
    assert not found, found


def test_workbook_formats_numbers_by_their_header_and_filters_every_sheet(tmp_path: Path) -> None:
    import openpyxl

    from feijian.tabular import write_xlsx

    frame = pd.DataFrame({"机构名称": ["第一人民医院", "药店"], "预计追回金额（元）": [22773.62044022985, 5.0],
                          "严重问题概率": [0.9999999076201582, 0.25], "命中条数": [12, 3], "备注": [1.5, 2.5]})
    book = openpyxl.load_workbook(write_xlsx({"计划": frame}, tmp_path / "f.xlsx"))
    ws = book["计划"]
    assert ws["B2"].number_format == "#,##0.00" and ws["B2"].value == 22773.62044022985  # shown rounded, kept whole
    assert ws["C2"].number_format == "0.0%" and ws["D2"].number_format == "#,##0"
    assert ws["E2"].number_format == "General"  # a header that names no kind keeps Excel's own
    assert ws.auto_filter.ref == "A1:E3" and ws.freeze_panes == "A2"
    assert ws.column_dimensions["A"].width >= 14  # six CJK characters need twelve columns and a margin
