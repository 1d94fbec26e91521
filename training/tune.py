"""Modest, seeded hyper-parameter search for the risk model, on cross-validation of the training part only.

The held-out part is split off exactly as `train_table` splits it and never scored here: tuning on it
would make the held-out figures a measure of the search, not of the model. A few trials of TPE with
a fixed seed are enough on small tables; the defaults are usually within noise of the best.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from training.model import DEFAULT_PARAMS, EARLY_STOP, MAX_ROUNDS


def cv_average_precision(params: dict[str, Any], X: pd.DataFrame, y: np.ndarray, seed: int,
                         folds: list[tuple[np.ndarray, np.ndarray]] | None = None) -> float:
    """Mean average precision over `folds` (default: 5 stratified) at the best round (early stopping
    on the same metric)."""
    full = {**DEFAULT_PARAMS, **params, "objective": "binary", "metric": "average_precision", "seed": seed}
    folds = folds or list(StratifiedKFold(5, shuffle=True, random_state=seed).split(X, y))
    cv = lgb.cv(
        full,
        lgb.Dataset(X, y),
        num_boost_round=MAX_ROUNDS,
        folds=folds,
        callbacks=[lgb.early_stopping(EARLY_STOP, verbose=False)],
    )
    return float(max(cv["valid average_precision-mean"]))


def suggest(trial: optuna.Trial) -> dict[str, Any]:
    """The search space: compact trees only (the served model must stay small and fast to explain)."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.1, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 31),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 5, 100, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True),
    }


def tune_xy(X: pd.DataFrame, y: np.ndarray, n_trials: int = 20, seed: int = 0,
            folds: list[tuple[np.ndarray, np.ndarray]] | None = None,
            timeout: float | None = None) -> tuple[dict[str, Any], float, float]:
    """Best parameters by CV average precision, that CV score, and the defaults' CV score for comparison.

    The defaults are the first trial; `timeout` (seconds) ends the search after the trial running then."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial({k: DEFAULT_PARAMS[k] for k in suggest(optuna.trial.FixedTrial(DEFAULT_PARAMS))})
    study.optimize(lambda t: cv_average_precision(suggest(t), X, y, seed, folds), n_trials=n_trials,
                   timeout=timeout)
    default_score = study.trials[0].value
    return dict(study.best_params), float(study.best_value), float(default_score)

