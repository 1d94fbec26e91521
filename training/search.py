"""Optuna on the time-ordered backtest, maximising what planners live by: recovery in the top k.

Each trial fits the backtest folds oldest first and reports the running mean of the model's
recovered share at k after each fold, so the median pruner can stop a poor trial early. The study
lives in a SQLite database under mlruns/ (`optuna.db`), keyed by the data's fingerprint, the label
definition and the weighting, so an interrupted search resumes and a search on other data starts
fresh. The defaults are always trial 0: tuning can only keep or improve on them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from training.backtest import Fold, labelled_metrics, run_backtest
from training.dataset import Round
from training.model import DEFAULT_PARAMS
from training.target_model import Weighting
from training.tune import suggest

STUDY_DB = "optuna.db"


def study_name(fingerprint: str, label_key: str, weighting: str) -> str:
    digest = hashlib.sha256(f"{fingerprint}|{label_key}|{weighting}".encode()).hexdigest()[:12]
    return f"facility-{digest}"


def _share(fold: Fold) -> float:
    v = labelled_metrics(fold)["model"]["recovered_share_at_k"]
    return 0.0 if np.isnan(v) else float(v)


def tune_backtest(
    rounds: list[Round],
    columns: list[str],
    storage_dir: Path,
    name: str,
    n_trials: int = 30,
    timeout: float | None = 240.0,
    seed: int = 0,
    weighting: Weighting = "none",
    progress: Callable[[int, float], None] | None = None,
    min_train_rounds: int = 3,
) -> tuple[dict[str, Any], float, float, int]:
    """(best params, best objective, the defaults' objective, trials run in this call)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage_dir.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        study_name=name,
        storage=f"sqlite:///{storage_dir / STUDY_DB}",
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
        load_if_exists=True,
    )
    defaults = {k: DEFAULT_PARAMS[k] for k in suggest(optuna.trial.FixedTrial(DEFAULT_PARAMS))}
    if not study.trials:
        study.enqueue_trial(defaults)

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial)
        shares: list[float] = []

        def on_fold(i: int, fold: Fold) -> None:
            shares.append(_share(fold))
            trial.report(float(np.mean(shares)), i)
            if trial.should_prune():
                raise optuna.TrialPruned()

        run_backtest(
            rounds,
            columns,
            params=params,
            seed=seed,
            weighting=weighting,
            min_train_rounds=min_train_rounds,
            on_fold=on_fold,
        )
        return float(np.mean(shares))

    done_before = len([t for t in study.trials if t.state.is_finished()])
    remaining = max(0, n_trials - len([t for t in study.trials if t.state.is_finished()]))
    start = time.perf_counter()
    if remaining:
        study.optimize(
            objective,
            n_trials=remaining,
            timeout=timeout,
            callbacks=[lambda s, t: progress(len(s.trials), time.perf_counter() - start)] if progress else None,
        )
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    default_value = complete[0].value if complete and complete[0].params == defaults else float("nan")
    return (
        dict(study.best_params),
        float(study.best_value),
        float(default_value or 0.0),
        len([t for t in study.trials if t.state.is_finished()]) - done_before,
    )
