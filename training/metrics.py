"""Ranking metrics that inspection planners live by.

A planner inspects the top k of a list, so besides AUC and average precision the useful questions are
"how many of my k picks are real" (precision@k) and "how much money do my k picks recover"
(recovered@k). The top k is taken by a stable sort on (-score, row index): equal scores keep their
input order, so the same list gives the same picks on every machine and every run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from feijian.errors import InputError

ArrayLike = Sequence[float] | np.ndarray


def _vec(values: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    if arr.size == 0:
        raise InputError(f"{name} is empty: a metric needs at least one row")
    return arr


def _pair(a: ArrayLike, b: ArrayLike, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    x, y = _vec(a, names[0]), _vec(b, names[1])
    if x.shape != y.shape:
        raise InputError(f"{names[0]} has {x.size} rows but {names[1]} has {y.size}: they must align row by row")
    return x, y


def _binary(y: ArrayLike) -> np.ndarray:
    arr = _vec(y, "y")
    bad = ~np.isin(arr, (0.0, 1.0))
    if bad.any():
        raise InputError(f"y must be 0/1; found {arr[bad][:3].tolist()} (first values that are not)")
    return arr


def top_k_index(score: ArrayLike, k: int) -> np.ndarray:
    """Row indices of the k highest scores; ties keep input order, NaN scores rank last."""
    s = _vec(score, "score")
    if k < 1:
        raise InputError(f"k must be at least 1; got {k}")
    s = np.where(np.isnan(s), -np.inf, s)
    return np.argsort(-s, kind="stable")[: min(k, s.size)]


def auc(y: ArrayLike, score: ArrayLike) -> float:
    """ROC AUC; NaN when only one class is present (the question has no answer then)."""
    yy, s = _pair(y, score, ("y", "score"))
    yy = _binary(yy)
    if yy.min() == yy.max():
        return float("nan")
    return float(roc_auc_score(yy, np.nan_to_num(s, nan=-np.inf)))


def average_precision(y: ArrayLike, score: ArrayLike) -> float:
    """Average precision (area under precision-recall); NaN without positives."""
    yy, s = _pair(y, score, ("y", "score"))
    yy = _binary(yy)
    if yy.sum() == 0:
        return float("nan")
    return float(average_precision_score(yy, np.nan_to_num(s, nan=-np.inf)))


def precision_at_k(y: ArrayLike, score: ArrayLike, k: int) -> float:
    """Share of positives among the top k by score (k is capped at the number of rows)."""
    yy, _ = _pair(y, score, ("y", "score"))
    yy = _binary(yy)
    idx = top_k_index(score, k)
    return float(yy[idx].mean())


def recovered_at_k(amount: ArrayLike, score: ArrayLike, k: int) -> float:
    """Total amount (e.g. yuan recovered) over the top k by score; NaN amounts count as 0."""
    amt, _ = _pair(amount, score, ("amount", "score"))
    idx = top_k_index(score, k)
    return float(np.nansum(amt[idx]))


def brier(y: ArrayLike, p: ArrayLike) -> float:
    """Mean squared error of probabilities: lower is better calibrated and sharper."""
    yy, pp = _pair(y, p, ("y", "p"))
    yy = _binary(yy)
    return float(np.mean((pp - yy) ** 2))


def reliability_curve(y: ArrayLike, p: ArrayLike, bins: int = 10) -> list[tuple[float, float, int]]:
    """(mean predicted, observed positive share, n) per equal-width probability bin, empty bins left out.

    A calibrated model puts each point on the diagonal; this is what a planner checks before
    reading "37 %" as "about one in three of these will be confirmed".
    """
    yy, pp = _pair(y, p, ("y", "p"))
    yy = _binary(yy)
    if bins < 1:
        raise InputError(f"bins must be at least 1; got {bins}")
    if np.isnan(pp).any() or pp.min() < 0 or pp.max() > 1:
        raise InputError("p must be probabilities in [0, 1] without NaN")
    which = np.minimum((pp * bins).astype(int), bins - 1)
    curve = []
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        if n:
            curve.append((float(pp[mask].mean()), float(yy[mask].mean()), n))
    return curve
