"""`feijian demo`: the main job end to end on the built-in synthetic province.

Each stage is the same code the individual commands run; the demo only chains them and prints where
the results are. The province's truth is written apart and read by nothing here but evaluation.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.console import Console
from rich.rule import Rule


def _stage(console: Console, title: str) -> float:
    console.print(Rule(f"[bold]{title}"))
    return time.perf_counter()


def ingest_province(src: Path, workspace: Path, console: Console) -> None:
    """Ingest a simulated province's export as the demo does: UTF-8, no adapter, up to 5 % rejected rows.

    The workspace must already hold its pseudonym key (`ensure_demo_key`)."""
    from features.ingest.cli import run_ingest

    run_ingest(
        src=src,
        workspace=workspace,
        adapter=None,
        encoding="utf-8",
        max_reject_share=0.05,
        now=None,
        console=console,
    )


def run_demo(
    workspace: Path,
    out: Path,
    seed: int,
    scale: str,
    console: Console,
    mlruns: Path = Path("mlruns"),
    models: Path = Path("models"),
    trials: int = 15,
    serve: bool = True,
    port: int = 3000,
) -> None:
    from explain.charts import require_fonts
    from features.ingest import ensure_demo_key
    from simulator.cli_support import run_simulate

    require_fonts()  # step 6 writes Chinese PDFs: say so now, not after the training
    t0 = time.perf_counter()
    t = _stage(console, "1/7 模拟省份 simulate")
    run_simulate(out=out, seed=seed, scale=scale, console=console)
    console.print(f"  simulate: {time.perf_counter() - t:.1f} s")

    t = _stage(console, "2/7 数据接入 ingest")
    key_path = ensure_demo_key(workspace)
    console.print(f"  pseudonym key (generated for the demo, outside the repository): {key_path}")
    ingest_province(out / "input", workspace, console)
    console.print(f"  ingest: {time.perf_counter() - t:.1f} s")

    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    as_of = meta["next_round_date"]
    t = _stage(console, f"3/7 特征与规则 features (as_of {as_of})")
    from features.snapshot.cli import run_features

    run_features(workspace=workspace, as_of=as_of, window_months=12, engine="duckdb", console=console)
    console.print(f"  features: {time.perf_counter() - t:.1f} s")

    t = _stage(console, f"4/7 训练 train ({trials} Optuna trials on the backtest)")
    from training.labels import LabelConfig
    from training.train_cli import run_train

    run_train(workspace, mlruns, models, trials, 240.0, 0, 12, "none", LabelConfig(), console)
    console.print(f"  train: {time.perf_counter() - t:.1f} s")

    t = _stage(console, "5/7 评估 evaluate (with the province's hidden truth)")
    from training.evaluate_run import run_evaluate

    run_evaluate(workspace, mlruns, models, out / "truth", console)
    console.print(f"  evaluate: {time.perf_counter() - t:.1f} s")

    t = _stage(console, f"6/7 检查计划与报告 plan the next round (capacity {meta['inspection_capacity']}) and reports")
    from serving.demo_reports import run_demo_reports

    run_demo_reports(workspace, models, int(meta["inspection_capacity"]), console)
    console.print(f"  plan and reports: {time.perf_counter() - t:.1f} s")

    console.print(Rule("[bold green]完成 done"))
    console.print(f"  synthetic province: {out}/input (claims), {out}/truth (hidden truth, evaluation only)")
    console.print(f"  workspace:          {workspace} (raw/, quarantine/, features/, reports/, manifest.json)")
    console.print(f"  MLflow:             mlflow ui --backend-store-uri sqlite:///{mlruns}/mlflow.db")
    console.print(f"  model bundle:       {models}/champion.json")
    console.print(f"  total: {time.perf_counter() - t0:.1f} s")
    if not serve:
        return
    _stage(console, "7/7 服务 serve the page and API (Ctrl-C to stop)")
    from serving.serve_cli import run_serve, run_token

    run_token("issue", workspace, "demo planner", "planner", None, None, console)
    console.print("  paste this token into the page (it is shown once; `feijian token issue` makes more)")
    run_serve(workspace, models, "127.0.0.1", port, None, console)
