"""Reports: the PDF's text layer carries the Chinese reasons, Excel holds every evidence row, the CLI."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from explain.global_importance import global_explanation
from serving.explain import Explainer
from serving.plan import plan_round
from serving.reports.facility import write_facility_report, write_facility_reports
from serving.reports.round import write_round_report
from tests import serving_setup

needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")


def pdf_text(pdf: Path) -> str:
    out = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return re.sub(r"\s+", "", out)


@pytest.fixture(scope="module")
def facility_report(explainer: Explainer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_facility_report(explainer, "B01", tmp_path_factory.mktemp("fac"))


@needs_poppler
@pytest.mark.slow
def test_facility_pdf_text_has_the_chinese_reasons(explainer: Explainer, facility_report: dict[str, Path]) -> None:
    text = pdf_text(facility_report["pdf"])
    x = explainer.explain("B01")
    for r in x["reasons"]:
        assert re.sub(r"\s+", "", r["text"]) in text
    for needle in ("飞行检查对象报告", "测试机构B01", "疑点清单", "R-ZY-01", "医师风险排序", x["snapshot_id"]):
        assert needle in text
    assert facility_report["pdf"].read_bytes()[:5] == b"%PDF-"
    fonts = subprocess.run(["pdffonts", str(facility_report["pdf"])], capture_output=True, text=True, check=True)
    assert "CJK" in fonts.stdout  # the Chinese is set in Noto CJK, embedded: no tofu, no fallback boxes


@pytest.mark.slow
def test_facility_excel_lists_every_evidence_row(explainer: Explainer, facility_report: dict[str, Path]) -> None:
    sheets = pd.read_excel(facility_report["xlsx"], sheet_name=None)
    assert list(sheets) == ["疑点汇总", "疑点清单", "入选理由"]
    ev = explainer.evidence("B01")
    listed = sheets["疑点清单"]
    assert len(listed) == len(ev) > 0
    assert set(listed["就诊ID"]) == set(ev["mdtrt_id"])
    assert listed["涉及金额（元）"].sum() == pytest.approx(ev["amount_at_risk"].sum())
    assert sheets["疑点汇总"]["命中条数"].sum() == len(ev)
    # the planted split stays lead: as the readmission rate, or as the readmission-rule hits they cause (both
    # separate the planted facilities perfectly; which one the trees split on is a tie)
    first = sheets["入选理由"]["理由"].iloc[0]
    assert "7日内再入院率" in first or "规则命中明细数" in first
    assert set(ev["rule_id"]) == {"R-ZY-01"}
    html = facility_report["html"].read_text(encoding="utf-8")
    assert facility_report["png"].name in html and facility_report["png"].stat().st_size > 5_000


@pytest.mark.slow
def test_round_report(explainer: Explainer, tmp_path: Path) -> None:
    plan = plan_round(explainer.scored(), explainer.inspections(), explainer.as_of, 10, exploration_share=0.2, seed=1)
    paths = write_round_report(plan, explainer, tmp_path)
    sheets = pd.read_excel(paths["xlsx"], sheet_name=None)
    listed = sheets["检查名单"]
    assert len(listed) == 10
    assert list(listed["入选方式"]).count("随机探索") == 2
    assert "G14" not in set(listed["机构编号"])  # inspected 60 days before as_of
    assert set(sheets) == {"检查名单", "约束与排除", "按地区汇总", "按类型汇总"}
    assert sheets["按地区汇总"]["机构数"].sum() == 10
    assert "协议处理标注" in listed.columns
    rules = dict(zip(sheets["约束与排除"].iloc[:, 0], sheets["约束与排除"].iloc[:, 1], strict=False))
    assert str(rules.get("排序规则", "")).startswith("按预计追回金额排序")
    alone = write_round_report(plan, explainer, tmp_path / "alone", formats=("xlsx",))  # the page's download
    assert set(alone) == {"xlsx"} and not list((tmp_path / "alone").glob("*.pdf"))
    again = pd.read_excel(alone["xlsx"], sheet_name=None)
    assert all(again[k].equals(v) for k, v in sheets.items())
    assert "排序规则：按预计追回金额排序" in paths["html"].read_text(encoding="utf-8")
    if shutil.which("pdftotext"):
        text = pdf_text(paths["pdf"])
        assert "飞行检查计划" in text and "随机探索" in text and "按地区汇总" in text


@pytest.mark.slow
def test_global_explanation_plots(explainer: Explainer, tmp_path: Path) -> None:
    paths = global_explanation(explainer.explained(), tmp_path)
    names = {p.name for p in paths}
    assert {"importance.csv", "importance.png", "beeswarm.png"} <= names
    assert sum(n.startswith("dependence_") for n in names) == 4
    assert all(p.stat().st_size > 1_000 for p in paths)
    imp = pd.read_csv(tmp_path / "importance.csv")
    assert imp["mean_abs_shap"].is_monotonic_decreasing


@pytest.mark.slow
def test_cli_report_facility_and_round(bundled: serving_setup.Setup, explainer: Explainer, tmp_path: Path) -> None:
    from feijian.cli import app

    models = serving_setup.mark(bundled)
    runner = CliRunner()
    common = ["--workspace", str(bundled.workspace), "--models", str(models), "--out", str(tmp_path)]
    res = runner.invoke(app, ["report", "--facility", "B02", *common])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "facility_B02.pdf").is_file()
    res = runner.invoke(app, ["report", "--round", "--capacity", "5", "--region-cap", "990101=2", *common])
    assert res.exit_code == 0, res.output
    assert "planned 5 of capacity 5" in res.output
    res = runner.invoke(app, ["report", "--facility", "NOPE", *common])
    assert res.exit_code == 2 and "NOPE" in res.output
    res = runner.invoke(app, ["report", "--round", "--capacity", "0", *common])
    assert res.exit_code == 2 and "capacity" in res.output


@pytest.mark.slow
def test_training_logs_the_global_explanation_to_mlflow(bundled: serving_setup.Setup, tmp_path: Path) -> None:
    import mlflow

    from training.dataset import add_facility_context
    from training.train import log_global_explanation

    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    try:
        exp = mlflow.create_experiment("explain-test", artifact_location=(tmp_path / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=exp) as run:
            candidates = add_facility_context(pd.read_parquet(bundled.snapshot / "facility.parquet"), 0)
            log_global_explanation(bundled.bundle.path, bundled.snapshot, candidates, print)
        logged = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "explanations")}
    finally:
        mlflow.set_tracking_uri(before)
    assert {"explanations/beeswarm.png", "explanations/importance.csv", "explanations/importance.png"} <= logged


def test_parallel_reports_match_one_by_one(explainer: Explainer, tmp_path: Path) -> None:
    codes = explainer.scored()["fixmedins_code"].head(3).tolist()
    done = write_facility_reports(explainer, codes, tmp_path / "par", workers=2)
    assert sorted(done) == sorted(codes)
    one = write_facility_report(explainer, codes[0], tmp_path / "one")
    assert done[codes[0]]["html"].read_text(encoding="utf-8") == one["html"].read_text(encoding="utf-8")
    assert all(p["pdf"].stat().st_size > 10_000 for p in done.values())
