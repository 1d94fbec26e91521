"""`feijian evaluate`: the champion's procedure on the time-ordered backtest, against every baseline.

Re-runs the champion's parameters fold by fold (each fold fits only earlier rounds), adds the oracle
when `--truth` is given, the drift since the champion's training snapshot, the improper-payment
estimate from the random slice, and writes workspace/reports/evaluation.json and evaluation.html;
the figures are also logged to MLflow (experiment `feijian-evaluation`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from rich.console import Console
from rich.table import Table

from features.snapshot import latest_snapshot
from feijian.settings import Workspace
from training import registry
from training.backtest import RANKER_LABELS, RANKERS
from training.bundle import Bundle, champion_path
from training.calibration_check import calibrated_backtest
from training.dataset import add_facility_context, build_rounds, facility_columns
from training.drift import feature_drift, level, psi
from training.estimate import improper_payment
from training.evaluate import evaluation_report, truth_amounts
from training.labels import LabelConfig, facility_labels, physician_labels
from training.physician_rank import PHYSICIAN_KS, physician_backtest


def drift_report(ws: Workspace, bundle: Bundle, seed: int) -> dict[str, Any]:
    """Feature and score PSI between the champion's training snapshot and the newest snapshot."""
    ref_path = ws.features / str(bundle.meta.get("snapshot_id"))
    cur_path = latest_snapshot(ws.root)
    if not (ref_path / "facility.parquet").is_file():
        return {"reference": ref_path.name, "current": cur_path.name, "note": "training snapshot not in workspace"}
    ref = add_facility_context(pd.read_parquet(ref_path / "facility.parquet"), seed)
    cur = add_facility_context(pd.read_parquet(cur_path / "facility.parquet"), seed)
    fd = feature_drift(ref, cur, facility_columns())
    s_ref, s_cur = bundle.predict_frame(ref), bundle.predict_frame(cur)
    score_psi = psi(s_ref["expected_recovery"].to_numpy(), s_cur["expected_recovery"].to_numpy())
    return {
        "reference": ref_path.name,
        "current": cur_path.name,
        "score_psi": score_psi,
        "score_level": level(score_psi),
        "p_serious_psi": psi(s_ref["p_serious"].to_numpy(), s_cur["p_serious"].to_numpy()),
        "n_features_shifted": int((fd["level"] == "shift").sum()),
        "n_features_moderate": int((fd["level"] == "moderate").sum()),
        "top_features": fd.head(10).to_dict(orient="records"),
    }


def run_evaluate(
    workspace: Path, mlruns: Path, models_dir: Path, truth: Path | None, console: Console | None = None
) -> dict[str, Any]:
    ws = Workspace(Path(workspace))
    bundle = Bundle.load(champion_path(models_dir))
    meta = bundle.meta
    cfg = LabelConfig(**meta.get("label_config", {}))
    seed, window = int(meta.get("seed", 0)), int(meta.get("window_months", 12))
    fac = facility_labels(ws.root, cfg)
    rounds = build_rounds(ws.root, fac, physician_labels(ws.root, fac, cfg), window, seed)
    weighting = meta.get("weighting", "none")
    folds, choice = calibrated_backtest(rounds, facility_columns(), meta.get("params"), seed, weighting)
    version = f"{meta.get('model_name', registry.MODEL_NAME)} v{bundle.version}"
    tuned = set(meta.get("tuned_rounds", []))
    report = evaluation_report(folds, version, fac, truth, window, seed, tuned, choice)
    if truth is not None:
        report["physicians"] = physician_backtest(rounds, folds, truth, window, seed)
    report["drift"] = drift_report(ws, bundle, seed)
    cur = pd.read_parquet(latest_snapshot(ws.root) / "facility.parquet")
    est = improper_payment(fac, float(cur["fund_pay"].sum()), seed)
    if truth is not None:
        cur_as_of = pd.Timestamp(json.loads((latest_snapshot(ws.root) / "meta.json").read_text())["as_of"]).date()
        est["true_amount"] = float(truth_amounts(truth, cur_as_of, window).sum())
    report["improper_payment"] = est
    ws.reports.mkdir(parents=True, exist_ok=True)
    (ws.reports / "evaluation.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    (ws.reports / "evaluation.html").write_text(render_html(report), encoding="utf-8")
    _log(mlruns, report, bundle)
    if console is not None:
        print_summary(console, report)
        console.print(f"  written: {ws.reports / 'evaluation.json'}, {ws.reports / 'evaluation.html'}")
    return report


def _log(mlruns: Path, report: dict[str, Any], bundle: Bundle) -> None:
    registry.setup(Path(mlruns), registry.EVAL_EXPERIMENT)
    with mlflow.start_run(run_name=f"evaluate {report['model_version']}"):
        mlflow.set_tags({"model_version": bundle.version, "truth": str(report.get("truth"))})
        for i, r in enumerate(report["rounds"]):
            blocks = {"model": r["model"], **r["baselines"]}
            for ranker, m in blocks.items():
                for key, v in m.items():
                    if isinstance(v, int | float):
                        mlflow.log_metric(f"{ranker}.{key}", float(v), step=i)
        for i, r in enumerate(report.get("physicians") or []):
            for ranker in ("exposure", "model", "rule_hits", "random"):
                for key, v in (r.get(ranker) or {}).items():
                    if isinstance(v, int | float) and v == v:
                        mlflow.log_metric(f"physician.{ranker}.{key}", float(v), step=i)
        drift = report.get("drift", {})
        if isinstance(drift.get("score_psi"), float):
            mlflow.log_metric("drift.score_psi", drift["score_psi"])
        mlflow.log_dict(report, "evaluation.json")


def _fmt(v: Any, pct: bool = True) -> str:
    if v is None:
        return "—"
    return f"{100 * v:.0f}%" if pct else f"{v:,.0f}"


def print_summary(console: Console, report: dict[str, Any]) -> None:
    truth = report.get("truth") is not None
    metric = "oracle_share" if truth else "recovered_share_at_k"
    title = f"{report['model_version']}: " + (
        "share of the oracle's true amount in the top k" if truth else "share of the best recovery in the top k"
    )
    table = Table(title=title)
    table.add_column("round")
    table.add_column("k")
    table.add_column("AUC")
    for name in RANKERS:
        table.add_column(name)
    for r in report["rounds"]:
        blocks = {"model": r["model"], **r["baselines"]}
        tag = " (tuned)" if r.get("used_for_tuning") else " (held out)"
        table.add_row(
            r["round"] + tag,
            str(r["k"]),
            _fmt(r["model"]["auc"], pct=False) if r["model"]["auc"] is None else f"{r['model']['auc']:.2f}",
            *[_fmt(blocks[n].get(metric)) for n in RANKERS],
        )
    console.print(table)
    rs = report.get("random_slice", {}).get("model", {})
    if rs:
        console.print(f"  random slice (pooled): model AUC {rs.get('auc') or float('nan'):.2f}")
    est = report.get("improper_payment", {})
    if est.get("estimate") is not None:
        line = (
            f"  improper payment (random slice, {est['n_random']} inspections): "
            f"{est['estimate']:,.0f} yuan [{est['low']:,.0f}, {est['high']:,.0f}]"
        )
        if "true_amount" in est:
            line += f"; truth {est['true_amount']:,.0f}"
        console.print(line)
    docs = report.get("physicians") or []
    if docs:
        # a round with too few points before it has no physician model: its cell reads "—"
        names = [n for n in ("exposure", "model", "rule_hits", "random") if any(n in r for r in docs)]
        t = Table(title=f"physicians: share of the oracle's fraudulent amount in the top k ({' / '.join(names)})")
        t.add_column("round")
        for k in PHYSICIAN_KS:
            t.add_column(f"k={k}")
        for r in docs:
            cells = [" / ".join(_fmt(r.get(n, {}).get(f"oracle_share_at_{k}")) for n in names) for k in PHYSICIAN_KS]
            t.add_row(r["round"], *cells)
        console.print(t)
    d = report.get("drift", {})
    if "score_psi" in d:
        console.print(
            f"  drift since training: score PSI {d['score_psi']:.3f} ({d['score_level']}), "
            f"{d['n_features_shifted']} features shifted"
        )


def render_html(report: dict[str, Any]) -> str:
    env = Environment(loader=PackageLoader("training", "templates"), autoescape=select_autoescape(default=True))
    truth = report.get("truth") is not None
    return env.get_template("evaluation.html").render(
        r=report,
        rankers=RANKERS,
        labels=RANKER_LABELS,
        metric="oracle_share" if truth else "recovered_share_at_k",
        metric_label="真值占比（前 k 家真实违规金额 / 真值上限）" if truth else "前 k 家追回金额占最佳可能的比例",
        pct=lambda v: "—" if v is None else f"{100 * v:.0f}%",
    )
