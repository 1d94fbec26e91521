"""`feijian train`: labels → point-in-time rounds → Optuna on the backtest → fit → MLflow → champion → bundle.

The order matters for honesty: tuning and the reported backtest only ever fit on rounds before the
one they score; the final model then fits every labelled round, and is what the bundle carries.
Training never reads the simulator's truth (only `feijian evaluate --truth` does).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from explain.contrib import contributions
from explain.global_importance import Explained, global_explanation
from features.snapshot import input_fingerprint
from feijian.errors import FeijianError, InputError
from feijian.settings import Workspace
from feijian.tabular import csv_text
from training import metrics, registry
from training.backtest import Fold, ipw_for, labelled_metrics, objective
from training.bundle import Bundle, export_bundle, mark_champion
from training.calibration_check import calibrated_backtest
from training.context import context_spec
from training.dataset import (
    Round,
    build_rounds,
    column_label,
    facility_columns,
    known_before,
    physician_columns,
    read_meta,
    stack,
)
from training.evaluate import evaluation_report
from training.findings import read_rule_quality
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
    findings_used: dict[str, int] = field(default_factory=dict)  # ingested / recorded / … findings read
    trials: int = 0
    default_objective: float = float("nan")
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _importance(model: TargetModel) -> pd.DataFrame:
    booster = model.risk_.booster_
    gain = booster.feature_importance(importance_type="gain")
    split = booster.feature_importance(importance_type="split")
    imp = pd.DataFrame({"feature": booster.feature_name(), "gain": gain, "split": split})
    imp["label"] = imp["feature"].map(column_label)
    return imp.sort_values("gain", ascending=False).reset_index(drop=True)


def physician_model(
    rounds: list[Round], seed: int, say: Callable[[str], None]
) -> tuple[RiskModel | None, float | None]:
    """The physician model on every round, and its AUC on the last rounds, each scored by a model of earlier ones."""
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


def tune(
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


class Log:
    """Progress lines, the notes kept in the result, and seconds per step."""

    def __init__(self, progress: Callable[[str], None] | None = None) -> None:
        self.say: Callable[[str], None] = progress or (lambda _m: None)
        self.notes: list[str] = []
        self.seconds: dict[str, float] = {}
        self.start = time.perf_counter()

    def note(self, msg: str) -> None:
        self.notes.append(msg)
        self.say(msg)

    @contextmanager
    def timed(self, step: str) -> Iterator[None]:
        t = time.perf_counter()
        yield
        self.seconds[step] = time.perf_counter() - t


@dataclass
class Examples:
    """Labels and their point-in-time rounds: what every later step fits or scores."""

    fac: pd.DataFrame
    rounds: list[Round]
    columns: list[str]
    all_rows: pd.DataFrame
    fingerprint: str
    findings_used: dict[str, int] = field(default_factory=dict)  # ingested / recorded / … (training.findings)

    @property
    def latest(self) -> Round:
        return self.rounds[-1]


def examples(workspace: Path, cfg: LabelConfig, window_months: int, seed: int, say: Callable[[str], None],
             db_url: str | None = None) -> Examples:
    """Facility and physician labels (ingested and recorded findings), and one round per inspection batch
    with features as of its planning date."""
    fac = facility_labels(workspace, cfg, db_url)
    drs = physician_labels(workspace, fac, cfg, db_url)
    used = fac.attrs.get("findings", {})
    say(f"findings: {used.get('ingested', 0)} ingested, {used.get('recorded', 0)} recorded through the service "
        f"({used.get('recorded_replacing_ingested', 0)} of them correcting an ingested one, "
        f"{used.get('on_saved_rounds', 0)} on saved rounds' picks)")
    rounds = build_rounds(workspace, fac, drs, window_months, seed, progress=say)
    all_rows = stack(rounds)
    if len(rounds) < 2:
        raise InputError(
            f"training needs at least 2 inspection rounds for a time-ordered backtest; found {len(rounds)}"
        )
    return Examples(fac, rounds, facility_columns(), all_rows, data_fingerprint(workspace, fac), dict(used))


def data_fingerprint(workspace: Path, fac: pd.DataFrame) -> str:
    """The workspace's inputs and every finding the labels were made of (recorded ones live outside the
    workspace, so they are hashed here): what a model was fitted on."""
    import hashlib

    cols = ["insp_id", "batch", "as_of", "selection", "amount_recovered", "serious"]
    rows = pd.util.hash_pandas_object(fac[cols].astype(str), index=False).to_numpy().tobytes()
    inputs = input_fingerprint(Workspace(Path(workspace)))
    return hashlib.sha256(inputs.encode() + b"|" + rows).hexdigest()


def backtest(
    ex: Examples, params: dict[str, Any], seed: int, weighting: Weighting
) -> tuple[list[Fold], float, dict[str, Any]]:
    """Each round from the fourth (or second) on scored by a model of the rounds before it, calibrated
    by the method the held-out rounds choose (training.calibration_check); the objective; the choice."""
    folds, choice = calibrated_backtest(ex.rounds, ex.columns, params, seed, weighting)
    return folds, objective(folds), choice


def final_fit(
    ex: Examples, params: dict[str, Any], seed: int, weighting: Weighting, calibration: str = "platt"
) -> TargetModel:
    """The model the bundle carries: every labelled round (inverse-propensity weighted with `ipw`)."""
    weights = ipw_for(ex.all_rows, ex.rounds, ex.columns, seed) if weighting == "ipw" else None
    model = TargetModel(ex.columns, params=params, seed=seed, calibration=calibration)
    return model.fit(ex.all_rows, sample_weight=weights)


def log_rule_quality(quality: pd.DataFrame) -> None:
    """The rule base as the inspectors' verdicts judge it, on the active run: the table, each rule's
    confirmed share, how many rules are flagged for review (nothing when no line was checked)."""
    if quality.empty:
        return
    mlflow.log_text(csv_text(quality), "rule_quality.csv")
    mlflow.log_metrics({f"rule_quality.{r.rule_id}.confirmed_share": float(r.confirmed_share)
                        for r in quality.itertuples()})
    mlflow.log_metric("rule_quality.flagged_for_review", int(quality["review"].sum()))


def log_run(
    ex: Examples,
    cfg: LabelConfig,
    params: dict[str, Any],
    run_params: dict[str, Any],
    folds: list[Fold],
    score: float,
    champ_score: float | None,
    dr_auc: float | None,
    report: dict[str, Any],
    final: TargetModel,
    seed: int,
    quality: pd.DataFrame | None = None,
) -> None:
    """Parameters, provenance tags, per-fold metrics, the evaluation and feature importance of the active run;
    with `quality`, each rule's confirmed share from cases' worklists (training.findings.read_rule_quality)."""
    latest = ex.latest
    mlflow.log_params(
        {
            "lgbm_params": json.dumps(params, sort_keys=True),
            **run_params,
            "label_config": cfg.model_dump_json(),
            "n_features": len(ex.columns),
            **{f"findings_{k}": v for k, v in ex.findings_used.items()},
            **{f"p_{k}": v for k, v in params.items()},
        }
    )
    mlflow.set_tags(
        {
            "data_fingerprint": ex.fingerprint,
            "snapshot": latest.snapshot.name,
            "snapshot_fingerprint": read_meta(latest.snapshot)["fingerprint"],
            "declaration_version": read_meta(latest.snapshot)["declaration_version"],
            "code_version": registry.code_version(),
            "rounds": ",".join(r.batch for r in ex.rounds),
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
    cal = report.get("calibration") or {}
    for method, slices in (cal.get("methods") or {}).items():
        for part, m in slices.items():
            for key in ("log_loss", "ece", "brier", "max_p"):
                if m.get(key) is not None:
                    mlflow.log_metric(f"calibration.{method}.{part}.{key}", float(m[key]))
    if cal.get("method"):
        mlflow.set_tag("calibration", cal["method"])
    cover = (report.get("recovery_interval") or {}).get("coverage_leave_one_round_out")
    if cover is not None:
        mlflow.log_metric("recovery_interval.coverage", float(cover))
    mlflow.log_dict(report, "evaluation.json")
    mlflow.log_text(csv_text(_importance(final)), "feature_importance.csv")
    if quality is not None:
        log_rule_quality(quality)
    mlflow.log_dict(registry.package_versions(), "package_versions.json")


def export(
    models_dir: Path,
    version: str,
    run_id: str,
    ex: Examples,
    cfg: LabelConfig,
    params: dict[str, Any],
    run_params: dict[str, Any],
    score: float,
    tuned: set[str],
    final: TargetModel,
    dr_model: RiskModel | None,
    recovery: dict[str, Any] | None = None,
) -> Path:
    """The bundle folder models/facility/v<version>, with its provenance in meta.json."""
    latest = ex.latest
    snap_meta = read_meta(latest.snapshot)
    meta = {
        "model_version": version,
        "model_name": registry.MODEL_NAME,
        "run_id": run_id,
        "snapshot_id": latest.snapshot.name,
        "snapshot_as_of": latest.as_of.isoformat(),
        "data_fingerprint": ex.fingerprint,
        "declaration_version": snap_meta["declaration_version"],
        "rules_version": snap_meta.get("rules_version"),
        "window_months": run_params["window_months"],
        "label_config": json.loads(cfg.model_dump_json()),
        "params": params,
        "weighting": run_params["weighting"],
        "seed": run_params["seed"],
        "rounds": [r.batch for r in ex.rounds],
        "n_examples": len(ex.all_rows),
        "n_serious": int(ex.all_rows["serious"].sum()),
        "backtest_objective": score,
        "calibration": final.calibration,
        "tuned_rounds": sorted(tuned),
        "code_version": registry.code_version(),
        "trained_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
    }
    labels = {c: column_label(c) for c in ex.columns + physician_columns()}
    return export_bundle(
        Path(models_dir) / BUNDLE_FOLDER / f"v{version}",
        final,
        dr_model,
        physician_columns(),
        labels,
        latest.snapshot,
        meta,
        context_spec(run_params["seed"]),
        recovery,
    )


def explain_globally(bundle: Path, snapshot: Path, candidates: pd.DataFrame) -> Explained:
    """The bundle's contributions over `candidates`, every facility of `snapshot` with context added."""
    b = Bundle.load(bundle)
    X = b.matrix(candidates, "facility")
    S = contributions(b.facility_risk, X).to_numpy()[:, : len(X.columns)]
    return Explained(X, S, b.features["labels"], b.version, str(read_meta(snapshot)["snapshot_id"]))


def log_global_explanation(bundle: Path, snapshot: Path, candidates: pd.DataFrame, note: Callable[[str], None]) -> None:
    """SHAP importance, beeswarm and dependence plots of the bundle, logged as artifacts of the active run."""
    try:
        with tempfile.TemporaryDirectory() as tmp:
            global_explanation(explain_globally(bundle, snapshot, candidates), Path(tmp))
            mlflow.log_artifacts(tmp, "explanations")
    except FeijianError as exc:  # e.g. no CJK font installed: the run stands, the plots are missing
        note(f"global explanation skipped: {exc}")


def register(bundle: Path, ex: Examples, final: TargetModel, model_id: str) -> None:
    """Log the bundle as the run's MLflow model, into the model `registry.reserve_version` registered."""
    example = ex.latest.candidates[ex.columns].astype(float).head(5)
    registry.log_model(bundle, example, final.predict_frame(example), model_id)


def promote(
    client: Any,
    models_dir: Path,
    bundle: Path,
    version: str,
    champ: tuple | None,
    score: float,
    champ_score: float | None,
    note: Callable[[str], None],
    newer_data: bool = False,
) -> bool:
    """The candidate replaces the champion when it beats it on the same backtest; tagged and noted either way.

    The backtest compares procedures (parameters, weighting), refitted on the same rounds. When the
    candidate's procedure is the champion's (a tie) but it was fitted on data the champion never saw
    (`newer_data`: new findings, a new export), it takes over: the same procedure on more findings.
    Without that, a bureau retraining with its usual parameters after every round would never see
    its new findings reach the plan."""
    tie = champ_score is not None and abs(score - champ_score) <= 1e-12
    promoted = champ is None or (champ_score is not None and score > champ_score + 1e-12) or (tie and newer_data)
    mlflow.set_tag("promoted", str(promoted).lower())
    verdict = (
        "first model: champion"
        if champ is None
        else f"candidate {score:.4f} vs champion v{champ[0]} {champ_score:.4f} on the same backtest: "
        + ("promoted" + (" (same procedure, newer data)" if tie else "") if promoted else "kept the champion")
    )
    mlflow.set_tag("promotion", verdict)
    note(verdict)
    if promoted:
        registry.promote(client, version)
        mark_champion(Path(models_dir), bundle, registry.MODEL_NAME, version)
    return promoted


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
    db_url: str | None = None,
) -> TrainResult:
    """Train, log, register; `params` fixes the LightGBM parameters (no tuning) when given; `db_url` is the
    records database whose recorded findings join the ingested ones (default: the workspace's)."""
    if weighting not in ("none", "ipw"):
        raise InputError(f"--weighting must be one of: none, ipw; got {weighting!r}")
    cfg = label_config or LabelConfig()
    log = Log(progress)
    with log.timed("features"):
        ex = examples(workspace, cfg, window_months, seed, log.say, db_url)
    rounds = ex.rounds

    tuned_params: dict[str, Any] = {}
    default_obj, trials = float("nan"), 0
    with log.timed("tuning"):
        if params is None and n_trials > 0 and len(rounds) > 3:
            tuned_params, default_obj, trials = tune(
                rounds,
                ex.columns,
                Path(mlruns),
                ex.fingerprint,
                cfg,
                weighting,
                n_trials,
                timeout,
                seed,
                log.say,
                log.note,
            )
    lgbm_params = {**default_params(), **tuned_params, **(params or {})}

    with log.timed("backtest"):
        folds, score, calib = backtest(ex, lgbm_params, seed, weighting)

    client = registry.setup(Path(mlruns))
    champ = registry.champion_params(client)
    champ_score = None
    newer_data = False
    if champ is not None:
        with log.timed("champion backtest"):
            _, cparams, cweight = champ
            champ_score = backtest(ex, cparams, seed, cweight)[1]
        newer_data = registry.champion_fingerprint(client) != ex.fingerprint

    with log.timed("final fit"):
        final = final_fit(ex, lgbm_params, seed, weighting, calib["method"])
        dr_model, dr_auc = physician_model(rounds, seed, log.note)

    tuned = {r.batch for r in rounds[:-1]} if params is None and n_trials > 0 else set()
    run_params = {"weighting": weighting, "seed": seed, "window_months": window_months, "n_trials": n_trials}
    with log.timed("mlflow"), mlflow.start_run() as run:
        model_id, version = registry.reserve_version()
        mlflow.set_tag("mlflow.runName", f"train v{version}")
        try:
            report = evaluation_report(
                folds, f"{registry.MODEL_NAME} v{version}", ex.fac, None, window_months, seed, tuned, calib
            )
            log_run(ex, cfg, lgbm_params, run_params, folds, score, champ_score, dr_auc, report, final, seed,
                    read_rule_quality(workspace, db_url))
            bundle = export(
                models_dir, version, run.info.run_id, ex, cfg, lgbm_params, run_params, score, tuned, final, dr_model,
                calib["recovery"],
            )
            log_global_explanation(bundle, ex.latest.snapshot, ex.latest.candidates, log.note)
            register(bundle, ex, final, model_id)
        except BaseException:
            registry.discard_version(client, model_id, version)
            raise
        promoted = promote(client, models_dir, bundle, version, champ, score, champ_score, log.note, newer_data)
    log.seconds["total"] = time.perf_counter() - log.start
    return TrainResult(
        version=version,
        promoted=promoted,
        champion_version=version if promoted else (champ[0] if champ else None),
        objective=score,
        champion_objective=champ_score,
        params=lgbm_params,
        weighting=weighting,
        bundle=bundle,
        run_id=run.info.run_id,
        n_examples=len(ex.all_rows),
        n_serious=int(ex.all_rows["serious"].sum()),
        rounds=[r.batch for r in rounds],
        folds=folds,
        report=report,
        physician_cv_auc=dr_auc,
        findings_used=ex.findings_used,
        trials=trials,
        default_objective=default_obj,
        seconds=log.seconds,
        notes=log.notes,
    )
