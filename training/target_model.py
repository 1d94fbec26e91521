"""One target model: P(serious finding) × the amount a serious finding recovers = expected recovery.

Planners rank by expected recovery (yuan an inspection is worth on average); AUC and average
precision read the calibrated probability. Both halves are LightGBM (training.model); the amount
half learns from serious findings only, since what a minor finding recovers says little about what
a serious one would (it falls back to every labelled row when serious ones are too few), and
keeps a small-sample tree shape of its own (`AMOUNT_SHAPE`). Both halves respect the domain priors
of `training.priors` (monotone constraints: more rule-hit amount never lowers the score).
Optional inverse-propensity weights correct for inspections that were not chosen at random.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from training.model import (
    MIN_LABELLED,
    AmountModel,
    RiskModel,
    TooFewLabelsError,
    calibrated,
    expected_recovery,
)
from training.priors import monotone_constraints

Weighting = Literal["none", "ipw"]
MAX_WEIGHT = 20.0
# The amount half's own tree shape, whatever the risk half's (tuned) one. It learns from the serious
# findings alone, a few dozen at demo scale: with the risk half's 20-row leaves a cross-validation
# fold of ~30 rows cannot split at all, the amount came out one constant, and expected recovery
# ranked by probability alone (a clinic's 3,000 yuan before a hospital's 300,000).
AMOUNT_SHAPE: dict[str, Any] = {"num_leaves": 4, "min_data_in_leaf": 5}


def propensity_weights(candidates: pd.DataFrame, inspected: pd.Series, columns: list[str], seed: int = 0) -> np.ndarray:
    """1 / P(inspected | features) per candidate, clipped to [1, 20] and scaled to mean 1 over the inspected.

    A regularised logistic regression of "was inspected this round" on the features, over every
    candidate of the round: the targets the old selection favoured get less weight, the ones it
    rarely chose more, so the model learns about the whole population, not the old habits.
    """
    X = candidates[columns].astype(float).fillna(0.0).to_numpy()
    mu, sd = X.mean(axis=0), X.std(axis=0)
    X = (X - mu) / np.where(sd > 0, sd, 1.0)
    y = inspected.to_numpy(dtype=int)
    if y.min() == y.max():
        return np.ones(len(y))
    lr = LogisticRegression(C=0.05, max_iter=500, random_state=seed).fit(X, y)
    p = lr.predict_proba(X)[:, 1]
    w = np.clip(1.0 / np.maximum(p, 1e-6), 1.0, MAX_WEIGHT)
    return w / w[y == 1].mean()


class TargetModel(BaseEstimator):
    """Calibrated risk, amount if serious, and their product; `fit` takes the labelled frame."""

    def __init__(
        self,
        columns: list[str],
        params: dict | None = None,
        seed: int = 0,
        n_folds: int = 5,
        monotone: bool = True,
        calibration: str = "platt",
    ) -> None:
        self.columns = columns
        self.params = params
        self.seed = seed
        self.n_folds = n_folds
        self.monotone = monotone
        self.calibration = calibration

    def _booster_params(self) -> dict[str, Any]:
        """The LightGBM parameters of both halves: the given ones plus the domain priors (training.priors)."""
        if not self.monotone:
            return dict(self.params or {})
        return {**(self.params or {}), "monotone_constraints": monotone_constraints(self.columns)}

    def fit(self, labelled: pd.DataFrame, sample_weight: Any = None) -> TargetModel:
        X = labelled[self.columns].astype(float)
        y = labelled["serious"].to_numpy(dtype=float)
        amount = labelled["amount_recovered"].to_numpy(dtype=float).clip(min=0)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        params = self._booster_params()
        self.risk_ = RiskModel(
            params=params, calibration=self.calibration, seed=self.seed, n_folds=self.n_folds  # type: ignore[arg-type]
        ).fit(X, y, sample_weight=w)
        serious = y == 1
        if serious.sum() >= MIN_LABELLED and (amount[serious] > 0).sum() >= self.n_folds:
            self.amount_basis_ = "serious"
            rows = serious
        else:
            self.amount_basis_ = "all"
            rows = np.ones(len(y), dtype=bool)
        try:
            self.amount_ = AmountModel(params={**params, **AMOUNT_SHAPE}, seed=self.seed, n_folds=self.n_folds).fit(
                X[rows], amount[rows], sample_weight=None if w is None else w[rows]
            )
        except TooFewLabelsError:
            self.amount_basis_ = "mean"
            self.amount_ = None
            self.amount_mean_ = float(amount[rows].mean()) if rows.any() else 0.0
        self.n_train_ = len(y)
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.risk_.predict_proba(frame[self.columns].astype(float))

    def predict_amount(self, frame: pd.DataFrame) -> np.ndarray:
        if self.amount_ is None:
            return np.full(len(frame), self.amount_mean_)
        return self.amount_.predict(frame[self.columns].astype(float))

    def expected_recovery(self, frame: pd.DataFrame) -> np.ndarray:
        return expected_recovery(self.predict_proba(frame), self.predict_amount(frame))

    def raw_score(self, frame: pd.DataFrame) -> np.ndarray:
        """The risk half's uncalibrated margin (what breaks ties and what a recalibration re-reads)."""
        return self.risk_.raw_score(frame[self.columns].astype(float))

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """p_serious, amount_if_serious and expected_recovery per row."""
        p = calibrated(self.risk_.calibrator_, self.raw_score(frame))
        amt = self.predict_amount(frame)
        return pd.DataFrame(
            {"p_serious": p, "amount_if_serious": amt, "expected_recovery": expected_recovery(p, amt)},
            index=frame.index,
        )
