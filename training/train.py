"""`feijian train`: labels → point-in-time rounds → Optuna on the backtest → fit → MLflow → champion → bundle.

The order matters for honesty: tuning and the reported backtest only ever fit on rounds before the
one they score; the final model then fits every labelled round, and is what the bundle carries.
Training never reads the simulator's truth (only `feijian evaluate --truth` does).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from features.build import input_fingerprint
from feijian.errors import FeijianError, InputError
from feijian.settings import Workspace
from feijian.tabular import csv_text
from training import registry
from training.backtest import Fold, labelled_metrics, objective, run_backtest
from training.bundle import Bundle, export_bundle, mark_champion
from training.dataset import (
    Round,
    build_rounds,
    column_label,
    facility_columns,
    physician_columns,
    read_meta,
    stack,
)
from training.evaluate import evaluation_report
from training.labels import LabelConfig, facility_labels, physician_labels
from training.model import RiskModel, TooFewLabelsError
from training.search import accept_tuned, default_params, holdout_shares, study_name, tune_backtest
from training.target_model import TargetModel, Weighting

BUNDLE_FOLDER = "facility"
# Tuned parameters replace the defaults only when their mean share on the searched folds beats the
# defaults' by this much (and they win most of those folds and the inner hold-out: search.accept_tuned).
MIN_TUNING_GAIN = 0.02


@dataclass
class TrainResult:
    version: str
    promoted: bool
    champion_version: str | None
    objective: float
    champion_objective: float | None
    params: dict[str, Any]
    weighting: str
    bundle: Path
    run_id: str
    n_examples: int
    n_serious: int
    rounds: list[str]
    folds: list[Fold] = field(repr=False)
    report: dict[str, Any] = field(repr=False)
    physician_cv_auc: float | None = None
    trials: int = 0
    default_objective: float = float("nan")
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _next_version(client: Any, name: str) -> str:
    try:
        versions = client.search_model_versions(f"name='{name}'")
    except Exception:
        versions = []
    return str(max([int(v.version) for v in versions], default=0) + 1)


def _importance(model: TargetModel) -> pd.DataFrame:
    booster = model.risk_.booster_
    gain = booster.feature_importance(importance_type="gain")
    split = booster.feature_importance(importance_type="split")
    imp = pd.DataFrame({"feature": booster.feature_name(), "gain": gain, "split": split})
    imp["label"] = imp["feature"].map(column_label)
    return imp.sort_values("gain", ascending=False).reset_index(drop=True)


def _physician_model(
    rounds: list[Round], seed: int, say: Callable[[str], None]
) -> tuple[RiskModel | None, float | None]:
    """The physician model on every round, and its AUC on the last rounds, each scored by a model of earlier ones."""
    from training import metrics
    from training.dataset import known_before

    lab = stack(rounds, physician=True)
    if lab.empty:
        say("physician model: no physician labels (insp_dr_points) — skipped")
        return None, None
    cols = physician_columns()
    try:
        model = RiskModel(seed=seed).fit(lab[cols].astype(float), lab["serious"].to_numpy(dtype=float))
    except TooFewLabelsError as exc:
        say(f"physician model skipped: {exc}")
        return None, None
    ys, ps = [], []
    for i in range(max(1, len(rounds) - 3), len(rounds)):
        test = rounds[i].physician_labelled
        train = known_before(stack(rounds[:i], physician=True), rounds[i].as_of)
        if test.empty or train.empty:
            continue
        try:
            m = RiskModel(seed=seed).fit(train[cols].astype(float), train["serious"].to_numpy(dtype=float))
        except TooFewLabelsError:
            continue
        ys.append(test["serious"].to_numpy(dtype=float))
        ps.append(m.predict_proba(test[cols].astype(float)))
    auc = metrics.auc(np.concatenate(ys), np.concatenate(ps)) if ys else None
    return model, auc


def _log_global_explanation(workspace: Path, bundle: Path, snapshot: Path, note: Callable[[str], None]) -> None:
    """SHAP importance, beeswarm and dependence plots of the new bundle, logged as run artifacts."""
    import tempfile

    from serving.explain import Explainer
    from serving.global_explain import global_explanation

    try:
        with tempfile.TemporaryDirectory() as tmp:
            global_explanation(Explainer.build(workspace, Bundle.load(bundle), snapshot), Path(tmp))
            mlflow.log_artifacts(tmp, "explanations")
    except FeijianError as exc:  # e.g. no CJK font installed: the run stands, the plots are missing
        note(f"global explanation skipped: {exc}")


def _tune(
    rounds: list[Round],
    columns: list[str],
    mlruns: Path,
    fingerprint: str,
    cfg: LabelConfig,
    weighting: Weighting,
    n_trials: int,
    timeout: float | None,
    seed: int,
    say: Callable[[str], None],
    note: Callable[[str], None],
) -> tuple[dict[str, Any], float, int]:
    """(accepted parameters, {} for the defaults; the defaults' search objective; trials run).

    The latest round is never used: it stays an honest hold-out for the reported figures. The one
    before it is the inner hold-out that decides whether the search's best replaces the defaults;
    the search itself scores the folds before that.
    """
    searched = rounds[:-2]
    first = min(3, len(searched) - 1)
    tuning = tune_backtest(
        searched,
        columns,
        mlruns,
        study_name(fingerprint, cfg.model_dump_json(), weighting, len(searched)),
        n_trials=n_trials,
        timeout=timeout,
        seed=seed,
        weighting=weighting,
        progress=lambda n, s: say(f"tuning: trial {n} ({s:.0f} s)"),
        min_train_rounds=first,
    )
    holdout = holdout_shares(rounds[:-1], columns, tuning.params, seed, weighting)
    accepted, why = accept_tuned(tuning.shares, tuning.default_shares, holdout, MIN_TUNING_GAIN)
    note(f"tuning on {', '.join(r.batch for r in searched[first:])} (inner hold-out {rounds[-2].batch}): {why}")
    return (tuning.params if accepted else {}), tuning.default_value, tuning.trials


def train_workspace(
    workspace: Path,
    mlruns: Path,
    models_dir: Path,
    n_trials: int = 30,
    timeout: float | None = 240.0,
    seed: int = 0,
    window_months: int = 12,
    weighting: Weighting = "none",
    label_config: LabelConfig | None = None,
    progress: Callable[[str], None] | None = None,
    params: dict[str, Any] | None = None,
) -> TrainResult:
    """Train, log, register; `params` fixes the LightGBM parameters (no tuning) when given."""
    say = progress or (lambda _m: None)
    if weighting not in ("none", "ipw"):
        raise InputError(f"--weighting must be one of: none, ipw; got {weighting!r}")
    cfg = label_config or LabelConfig()
    t0 = time.perf_counter()
    seconds: dict[str, float] = {}
    notes: list[str] = []

    def note(msg: str) -> None:
        notes.append(msg)
        say(msg)

    fac = facility_labels(workspace, cfg)
    drs = physician_labels(workspace, fac, cfg)
    rounds = build_rounds(workspace, fac, drs, window_months, seed, progress=say)
    seconds["features"] = time.perf_counter() - t0
    columns = facility_columns()
    all_rows = stack(rounds)
    if len(rounds) < 2:
        raise InputError(
            f"training needs at least 2 inspection rounds for a time-ordered backtest; found {len(rounds)}"
        )
    fingerprint = input_fingerprint(Workspace(Path(workspace)))
    min_train = min(3, len(rounds) - 1)

    t = time.perf_counter()
    tuned_params: dict[str, Any] = {}
    default_obj, trials = float("nan"), 0
    if params is None and n_trials > 0 and len(rounds) > 3:
        tuned_params, default_obj, trials = _tune(
            rounds, columns, Path(mlruns), fingerprint, cfg, weighting, n_trials, timeout, seed, say, note
        )
    seconds["tuning"] = time.perf_counter() - t
    lgbm_params = {**default_params(), **tuned_params, **(params or {})}

    t = time.perf_counter()
    folds = run_backtest(rounds, columns, lgbm_params, seed, weighting, min_train_rounds=min_train)
    score = objective(folds)
    seconds["backtest"] = time.perf_counter() - t

    client = registry.setup(Path(mlruns))
    champ = registry.champion_params(client)
    champ_score = None
    if champ is not None:
        t = time.perf_counter()
        _, cparams, cweight = champ
        champ_folds = run_backtest(rounds, columns, cparams, seed, cweight, min_train_rounds=min_train)  # type: ignore[arg-type]
        champ_score = objective(champ_folds)
        seconds["champion backtest"] = time.perf_counter() - t

    t = time.perf_counter()
    weights = None
    if weighting == "ipw":
        from training.backtest import ipw_for

        weights = ipw_for(all_rows, rounds, columns, seed)
    final = TargetModel(columns, params=lgbm_params, seed=seed).fit(all_rows, sample_weight=weights)
    dr_model, dr_auc = _physician_model(rounds, seed, note)
    seconds["final fit"] = time.perf_counter() - t

    version = _next_version(client, registry.MODEL_NAME)
    promoted = champ is None or (champ_score is not None and score > champ_score + 1e-12)
    latest = rounds[-1]
    tuned = {r.batch for r in rounds[:-1]} if params is None and n_trials > 0 else set()
    report = evaluation_report(folds, f"{registry.MODEL_NAME} v{version}", fac, None, window_months, seed, tuned)
    t = time.perf_counter()
    with mlflow.start_run(run_name=f"train v{version}") as run:
        mlflow.log_params(
            {
                "lgbm_params": json.dumps(lgbm_params, sort_keys=True),
                "weighting": weighting,
                "seed": seed,
                "window_months": window_months,
                "n_trials": n_trials,
                "label_config": cfg.model_dump_json(),
                "n_features": len(columns),
                **{f"p_{k}": v for k, v in lgbm_params.items()},
            }
        )
        mlflow.set_tags(
            {
                "data_fingerprint": fingerprint,
                "snapshot": latest.snapshot.name,
                "snapshot_fingerprint": read_meta(latest.snapshot)["fingerprint"],
                "declaration_version": read_meta(latest.snapshot)["declaration_version"],
                "code_version": registry.code_version(),
                "rounds": ",".join(r.batch for r in rounds),
                **{f"pkg.{k}": v for k, v in registry.package_versions().items()},
            }
        )
        for i, f in enumerate(folds):
            for ranker, m in labelled_metrics(f, seed).items():
                for key, v in m.items():
                    if v == v:  # NaN is not a metric
                        mlflow.log_metric(f"{ranker}.{key}", float(v), step=i)
                        if ranker == "model":
                            mlflow.log_metric(f"fold_{f.batch}.{key}", float(v))
        mlflow.log_metric("objective_recovered_share_at_k", score)
        if champ_score is not None:
            mlflow.log_metric("champion_objective", champ_score)
        if dr_auc is not None and dr_auc == dr_auc:
            mlflow.log_metric("physician_cv_auc", dr_auc)
        mlflow.log_dict(report, "evaluation.json")
        imp = _importance(final)
        mlflow.log_text(csv_text(imp), "feature_importance.csv")
        mlflow.log_dict(registry.package_versions(), "package_versions.json")
        meta = {
            "model_version": version,
            "model_name": registry.MODEL_NAME,
            "run_id": run.info.run_id,
            "snapshot_id": latest.snapshot.name,
            "snapshot_as_of": latest.as_of.isoformat(),
            "data_fingerprint": fingerprint,
            "declaration_version": read_meta(latest.snapshot)["declaration_version"],
            "rules_version": read_meta(latest.snapshot).get("rules_version"),
            "window_months": window_months,
            "label_config": json.loads(cfg.model_dump_json()),
            "params": lgbm_params,
            "weighting": weighting,
            "seed": seed,
            "rounds": [r.batch for r in rounds],
            "n_examples": len(all_rows),
            "n_serious": int(all_rows["serious"].sum()),
            "backtest_objective": score,
            "tuned_rounds": sorted(tuned),
            "code_version": registry.code_version(),
            "trained_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        }
        labels = {c: column_label(c) for c in columns + physician_columns()}
        bundle = export_bundle(
            Path(models_dir) / BUNDLE_FOLDER / f"v{version}",
            final,
            dr_model,
            physician_columns(),
            labels,
            latest.snapshot,
            meta,
        )
        _log_global_explanation(Path(workspace), bundle, latest.snapshot, note)
        example = latest.candidates[columns].astype(float).head(5)
        got = registry.log_model(bundle, example, final.predict_frame(example))
        if got != version:
            note(f"registry gave version {got}, bundle folder says v{version}")
        mlflow.set_tag("promoted", str(promoted).lower())
        verdict = (
            "first model: champion"
            if champ is None
            else f"candidate {score:.4f} vs champion v{champ[0]} {champ_score:.4f} on the same backtest: "
            + ("promoted" if promoted else "kept the champion")
        )
        mlflow.set_tag("promotion", verdict)
        note(verdict)
        if promoted:
            registry.promote(client, got)
            mark_champion(Path(models_dir), bundle, registry.MODEL_NAME, got)
    seconds["mlflow"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0
    return TrainResult(
        version=got,
        promoted=promoted,
        champion_version=got if promoted else (champ[0] if champ else None),
        objective=score,
        champion_objective=champ_score,
        params=lgbm_params,
        weighting=weighting,
        bundle=bundle,
        run_id=run.info.run_id,
        n_examples=len(all_rows),
        n_serious=int(all_rows["serious"].sum()),
        rounds=[r.batch for r in rounds],
        folds=folds,
        report=report,
        physician_cv_auc=dr_auc,
        trials=trials,
        default_objective=default_obj,
        seconds=seconds,
        notes=notes,
    )
