"""The risk model: a compact LightGBM classifier whose scores are calibrated probabilities.

Why this shape:
- Labelled inspections are few (hundreds to a few thousand), so the booster is small (≤ 31 leaves,
  ≤ 300 rounds) and the round count comes from k-fold early stopping, not from a held-out slice
  that would cost scarce labels.
- Planners read the number as "chance the inspection confirms a serious finding", so the score is
  calibrated. The calibrator is fitted on out-of-fold scores (each row scored by a booster that did
  not see it); calibrating on in-sample scores would learn the booster's over-confidence. It is
  smooth, strictly increasing and bounded by what the findings support (training.calibration).
- Everything is seeded and single-path (deterministic, force_row_wise, fixed threads): the same
  data gives the same ranking on every run, which an audit trail needs.
- `sample_weight` is accepted throughout so inverse-propensity weights (inspected targets were not
  chosen at random) can be added without changing the interface.

Follows the scikit-learn estimator contract: `__init__` stores parameters, `fit` returns self,
learned state ends in `_`, and a higher score means more suspicious.
"""

from __future__ import annotations

from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import KFold, StratifiedKFold

from feijian.errors import InputError, NotReadyError
from training.calibration import METHODS, Calibrator, fit_calibrator

MIN_LABELLED = 20
MAX_ROUNDS = 300
EARLY_STOP = 30
# Tiny share of the raw score mixed into isotonic probabilities: isotonic regression is a step
# function, and without this the rows on one step would tie and be ranked by row order, not by risk.
# The smooth calibrators are strictly increasing and need none.
_TIE_BREAK = 1e-6


def blend(p: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Calibrated probabilities `p` with the tie-breaking share of the raw score `raw` mixed in."""
    return (1 - _TIE_BREAK) * p + _TIE_BREAK * expit(raw)


def calibrated(cal: Calibrator, raw: np.ndarray) -> np.ndarray:
    """P(positive) from raw margins; isotonic steps get the raw score's tie-break."""
    p = cal.predict(raw)
    return blend(p, raw) if cal.kind == "isotonic" else p


DEFAULT_PARAMS: dict[str, Any] = {
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    # One thread: on a few thousand rows threads buy nothing, and on a busy 2-core machine OpenMP
    # contention made a fit 10x slower (1 s single-threaded vs 12-15 s with 2 threads, measured here).
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "verbosity": -1,
}


class TooFewLabelsError(InputError):
    """Not enough labelled rows (or not both classes) to train and calibrate honestly."""


class ModelNotFittedError(NotReadyError, NotFittedError):
    """A model was asked to score before `fit` ran."""


def _as_frame(X: Any, names: list[str] | None = None) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        frame = X
    else:
        arr = np.asarray(X, dtype=float)
        if arr.ndim != 2:
            raise InputError(f"X must be a 2-D table; got shape {arr.shape}")
        frame = pd.DataFrame(arr, columns=names or [f"f{i}" for i in range(arr.shape[1])])
    cats = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]  # LightGBM categories
    bad = [c for c in frame.columns if c not in cats
           and not (pd.api.types.is_numeric_dtype(frame[c]) or frame[c].dtype == bool)]
    if bad:
        raise InputError(f"feature columns must be numeric or categorical; not: {bad[:5]} (encode or drop them first)")
    return frame.astype({c: float for c in frame.columns if c not in cats}) if cats else frame.astype(float)


def _align(model: BaseEstimator, X: Any) -> pd.DataFrame:
    if not hasattr(model, "booster_"):
        raise ModelNotFittedError(f"{type(model).__name__} is not fitted yet: call fit(X, y) first")
    names: list[str] = model.feature_names_in_
    if isinstance(X, pd.DataFrame):
        missing = [c for c in names if c not in X.columns]
        if missing:
            raise InputError(f"X lacks {len(missing)} feature(s) the model was fitted on: {missing[:5]}")
        return _as_frame(X[names])
    frame = _as_frame(X, names)
    if frame.shape[1] != len(names):
        raise InputError(f"X has {frame.shape[1]} columns; the model was fitted on {len(names)}")
    return frame


def _weights(sample_weight: Any, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=float).ravel()
    if w.size != n or np.isnan(w).any() or (w < 0).any():
        raise InputError(f"sample_weight must hold {n} non-negative numbers; got {w.size} values")
    return w


def _cv_rounds(params: dict, X: pd.DataFrame, y: np.ndarray, w: np.ndarray | None, folds: list) -> tuple[int, Any]:
    """Round count by k-fold early stopping (mean curve over folds), plus the fold boosters."""
    data = lgb.Dataset(X, y, weight=w, free_raw_data=False)
    cv = lgb.cv(
        params,
        data,
        num_boost_round=MAX_ROUNDS,
        folds=folds,
        callbacks=[lgb.early_stopping(EARLY_STOP, verbose=False)],
        return_cvbooster=True,
    )
    return max(1, int(cv["cvbooster"].best_iteration)), cv["cvbooster"]


class RiskModel(BaseEstimator):
    """Calibrated LightGBM classifier: `predict_proba(X)` is P(serious finding | inspected)."""

    def __init__(
        self,
        params: dict | None = None,
        calibration: Literal["platt", "beta", "isotonic"] = "platt",
        n_folds: int = 5,
        seed: int = 0,
    ) -> None:
        self.params = params
        self.calibration = calibration
        self.n_folds = n_folds
        self.seed = seed

    def _lgb_params(self) -> dict[str, Any]:
        return {**DEFAULT_PARAMS, **(self.params or {}), "objective": "binary", "seed": self.seed}

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> RiskModel:
        """Fit fold boosters for out-of-fold scores, the calibrator on them, then the final booster."""
        if self.calibration not in METHODS:
            raise InputError(f"calibration must be one of {', '.join(METHODS)}; got {self.calibration!r}")
        if self.n_folds < 2:
            raise InputError(f"n_folds must be at least 2; got {self.n_folds}")
        frame = _as_frame(X)
        yy = np.asarray(y, dtype=float).ravel()
        if yy.size != len(frame):
            raise InputError(f"X has {len(frame)} rows but y has {yy.size}")
        if not np.isin(yy, (0.0, 1.0)).all():
            raise InputError("y must be 0/1 (unlabelled rows must be left out, never counted as 0)")
        w = _weights(sample_weight, len(frame))
        n_pos, n_neg = int(yy.sum()), int(len(yy) - yy.sum())
        found = f"found {len(yy)} labelled rows: {n_pos} positive, {n_neg} negative"
        if n_pos == 0 or n_neg == 0:
            raise TooFewLabelsError(f"training needs both classes; {found}")
        if len(yy) < MIN_LABELLED or min(n_pos, n_neg) < self.n_folds:
            raise TooFewLabelsError(
                f"training needs at least {MIN_LABELLED} labelled rows and {self.n_folds} of each class "
                f"(one per fold); {found}. Label more targets or lower n_folds."
            )
        params = self._lgb_params()
        folds = list(StratifiedKFold(self.n_folds, shuffle=True, random_state=self.seed).split(frame, yy))
        rounds, cvb = _cv_rounds(params, frame, yy, w, folds)
        oof = np.empty(len(yy))
        for booster, (_, val) in zip(cvb.boosters, folds, strict=True):
            oof[val] = booster.predict(frame.iloc[val], num_iteration=rounds, raw_score=True)
        self.oof_raw_, self.oof_y_, self.oof_w_ = oof, yy, w
        self.calibrator_ = fit_calibrator(self.calibration, oof, yy, w)
        self.booster_ = lgb.train(params, lgb.Dataset(frame, yy, weight=w), num_boost_round=rounds)
        self.n_rounds_ = rounds
        self.feature_names_in_ = list(frame.columns)
        self.n_features_in_ = len(self.feature_names_in_)
        self.n_positive_, self.n_negative_ = n_pos, n_neg
        return self

    def recalibrate(self, method: str) -> RiskModel:
        """The same booster with the calibrator `method` fitted on the same out-of-fold scores."""
        if not hasattr(self, "oof_raw_"):
            raise ModelNotFittedError("RiskModel is not fitted yet: call fit(X, y) first")
        self.calibration = method  # type: ignore[assignment]
        self.calibrator_ = fit_calibrator(method, self.oof_raw_, self.oof_y_, self.oof_w_)
        return self

    def raw_score(self, X: Any) -> np.ndarray:
        """The booster's log-odds margin: uncalibrated, but it orders rows the same way."""
        frame = _align(self, X)
        return self.booster_.predict(frame, raw_score=True)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated P(positive), one value per row (1-D, unlike scikit-learn's two-column form)."""
        raw = self.raw_score(X)
        return calibrated(self.calibrator_, raw)


class AmountModel(BaseEstimator):
    """LightGBM Tweedie regression of an amount ≥ 0 (e.g. yuan recovered), many exact zeros allowed.

    Tweedie fits the mix of "nothing found" and a skewed positive amount in one model, which plain
    squared error handles badly. Predictions are expected amounts, never negative.
    """

    def __init__(
        self, params: dict | None = None, tweedie_variance_power: float = 1.5, n_folds: int = 5, seed: int = 0
    ) -> None:
        self.params = params
        self.tweedie_variance_power = tweedie_variance_power
        self.n_folds = n_folds
        self.seed = seed

    def fit(self, X: Any, amount: Any, sample_weight: Any = None) -> AmountModel:
        """Pick the round count by k-fold early stopping, then fit on all rows."""
        frame = _as_frame(X)
        a = np.asarray(amount, dtype=float).ravel()
        if a.size != len(frame):
            raise InputError(f"X has {len(frame)} rows but amount has {a.size}")
        if np.isnan(a).any() or (a < 0).any():
            raise InputError("amount must be a number ≥ 0 on every row (leave unlabelled rows out)")
        n_pos = int((a > 0).sum())
        if a.size < MIN_LABELLED or n_pos < self.n_folds:
            raise TooFewLabelsError(
                f"amount model needs at least {MIN_LABELLED} rows and {self.n_folds} with an amount > 0; "
                f"found {a.size} rows, {n_pos} with an amount > 0"
            )
        w = _weights(sample_weight, len(frame))
        params = {
            **DEFAULT_PARAMS,
            **(self.params or {}),
            "objective": "tweedie",
            "tweedie_variance_power": self.tweedie_variance_power,
            "seed": self.seed,
        }
        folds = list(KFold(self.n_folds, shuffle=True, random_state=self.seed).split(frame))
        rounds, _ = _cv_rounds(params, frame, a, w, folds)
        self.booster_ = lgb.train(params, lgb.Dataset(frame, a, weight=w), num_boost_round=rounds)
        self.n_rounds_ = rounds
        self.feature_names_in_ = list(frame.columns)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Expected amount per row (≥ 0)."""
        frame = _align(self, X)
        return np.maximum(self.booster_.predict(frame), 0.0)


def expected_recovery(p: Any, amount: Any) -> np.ndarray:
    """P(serious finding) × expected amount: the yuan an inspection of each target is worth on average."""
    pp = np.asarray(p, dtype=float).ravel()
    aa = np.asarray(amount, dtype=float).ravel()
    if pp.shape != aa.shape:
        raise InputError(f"p has {pp.size} rows but amount has {aa.size}: they must align row by row")
    if np.isnan(pp).any() or pp.min() < 0 or pp.max() > 1:
        raise InputError("p must be probabilities in [0, 1] without NaN")
    return pp * np.maximum(aa, 0.0)
