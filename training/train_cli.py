"""Terminal side of `feijian train` on the workspace: progress and a summary a data scientist reads."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from feijian.settings import Workspace
from training.backtest import RANKERS, labelled_metrics
from training.labels import LabelConfig
from training.train import TrainResult, train_workspace


def run_train(
    workspace: Path,
    mlruns: Path,
    models: Path,
    trials: int,
    timeout: float,
    seed: int,
    window_months: int,
    weighting: str,
    label_config: LabelConfig,
    console: Console,
    db_url: str | None = None,
) -> TrainResult:
    with console.status("training") as status:
        result = train_workspace(
            workspace,
            mlruns,
            models,
            n_trials=trials,
            timeout=timeout,
            seed=seed,
            window_months=window_months,
            weighting=weighting,  # type: ignore[arg-type]
            label_config=label_config,
            progress=lambda m: status.update(f"training: {m}"),
            db_url=db_url,
        )
    print_result(console, result)
    ws = Workspace(Path(workspace))
    ws.reports.mkdir(parents=True, exist_ok=True)
    summary = {
        "version": result.version,
        "promoted": result.promoted,
        "champion_version": result.champion_version,
        "objective": result.objective,
        "champion_objective": result.champion_objective,
        "default_objective": result.default_objective,
        "params": result.params,
        "weighting": result.weighting,
        "run_id": result.run_id,
        "bundle": str(result.bundle),
        "n_examples": result.n_examples,
        "n_serious": result.n_serious,
        "findings_used": result.findings_used,
        "rounds": result.rounds,
        "physician_auc_last_rounds": result.physician_cv_auc,
        "seconds": {k: round(v, 2) for k, v in result.seconds.items()},
    }
    (ws.reports / "training.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    return result


def print_result(console: Console, r: TrainResult) -> None:
    console.print(
        f"  examples: {r.n_examples} inspections in {len(r.rounds)} rounds ({r.n_serious} serious); "
        f"tuning: {r.trials} new trial(s), objective {r.objective:.3f} (defaults {r.default_objective:.3f})"
    )
    used = r.findings_used
    if used:
        console.print(f"  findings: {used.get('ingested', 0)} ingested, {used.get('recorded', 0)} recorded through "
                      f"the service ({used.get('recorded_replacing_ingested', 0)} correcting an ingested one, "
                      f"{used.get('on_saved_rounds', 0)} on saved rounds)")  # fmt: skip
    for line in r.notes:
        if line.startswith("tuning"):
            console.print(f"  {line}")
    table = Table(title="backtest: share of the best possible recovery in the top k (inspected targets)")
    table.add_column("round")
    table.add_column("AUC")
    for name in RANKERS:
        table.add_column(name)
    for f in r.folds:
        m = labelled_metrics(f)
        auc = m["model"]["auc"]
        table.add_row(
            f.batch,
            "—" if auc != auc else f"{auc:.2f}",
            *[
                "—"
                if m[n]["recovered_share_at_k"] != m[n]["recovered_share_at_k"]
                else f"{100 * m[n]['recovered_share_at_k']:.0f}%"
                for n in RANKERS
            ],
        )
    console.print(table)
    if r.physician_cv_auc is not None:
        console.print(f"  physician model: AUC {r.physician_cv_auc:.2f} on the last rounds (time-ordered)")
    console.print(
        f"  MLflow run {r.run_id}: version {r.version}, "
        + ("[bold green]champion[/]" if r.promoted else f"not promoted (champion stays v{r.champion_version})")
    )
    console.print(f"  bundle: {r.bundle}")
    console.print("  " + ", ".join(f"{k} {v:.1f}s" for k, v in r.seconds.items()))
