"""Calibration: from the booster's raw margin to a probability a planner can read, with its interval.

Why not isotonic regression (the old default): on a few hundred findings it is a step function.
Many facilities shared one step (58.1 %), the top step was 100 %, and the ranking inside a step fell
to a tie-break. The calibrators here are smooth and strictly increasing, so two facilities with
different scores never show the same risk, and bounded by what the findings can support:

    p(s) = lo + (hi - lo) * sigmoid(theta . phi(s))

- `phi(s)` is `[1, s]` for Platt scaling, `[1, ln q, -ln(1 - q)]` with `q = sigmoid(s)` for beta
  calibration (Kull et al. 2017), which also bends the two tails separately.
- `theta` is the maximum a posteriori fit on out-of-fold scores with a Gaussian prior centred on the
  identity map (slope 1, intercept at the base rate's log-odds): with few findings the fit stays
  near "the booster's margin is already log-odds" instead of stretching to 0 and 1.
- `lo` and `hi` are the most extreme event rates the ranked out-of-fold scores support: over every
  prefix of at least `MIN_PREFIX` rows from the top (and from the bottom), the centre of Wilson's
  score interval (z = 1.96), `(k + z^2 / 2) / (n + z^2)`. Twenty-four findings out of twenty-four
  support 93 %, not 100 %; no calibrated probability ever exceeds `hi`.
- The interval of a probability is the posterior's (Laplace approximation: the inverse Hessian of
  the negative log posterior at the fit), at `BAND_LEVEL`: how well the findings pin the curve
  down at this score. It always contains the point.

Isotonic regression stays available (`"isotonic"`) for comparison: the backtest scores every method
on each fold's own out-of-fold data, and training keeps the one with the lowest log loss on the
random slice (`training.backtest.choose_calibration`).

Plain data in, plain data out: `Calibrator.to_json()` is what the bundle stores, `from_json` reads
it back (old bundles' isotonic steps and Platt coefficients too); loading executes no code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit, logit
from scipy.stats import norm
from sklearn.isotonic import IsotonicRegression

from feijian.errors import InputError

Method = Literal["platt", "beta", "isotonic"]
METHODS: tuple[str, ...] = ("platt", "beta", "isotonic")
WILSON_Z = 1.96
MIN_PREFIX = 10
BAND_LEVEL = 0.90
PRIOR_SD_SLOPE = 1.0
PRIOR_SD_INTERCEPT = 3.0
MIN_SLOPE = 1e-3


def wilson_centre(k: np.ndarray | float, n: np.ndarray | float, z: float = WILSON_Z) -> np.ndarray:
    """Centre of Wilson's score interval for k events in n trials: the rate shrunk toward 1/2."""
    return (np.asarray(k, dtype=float) + z * z / 2) / (np.asarray(n, dtype=float) + z * z)


def wilson_upper(k: np.ndarray | float, n: np.ndarray | float, z: float = WILSON_Z) -> np.ndarray:
    """Upper end of Wilson's score interval for k events in n trials."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    phat = np.where(n > 0, k / np.maximum(n, 1), 0.0)
    denom = 1 + z * z / np.maximum(n, 1)
    centre = phat + z * z / (2 * np.maximum(n, 1))
    half = z * np.sqrt(phat * (1 - phat) / np.maximum(n, 1) + z * z / (4 * np.maximum(n, 1) ** 2))
    return (centre + half) / denom


def supported_bounds(raw: np.ndarray, y: np.ndarray, min_prefix: int = MIN_PREFIX) -> tuple[float, float]:
    """(lowest, highest) event rate a prefix of the ranked scores supports (Wilson centre, z = 1.96)."""
    order = np.argsort(raw, kind="stable")
    ys = np.asarray(y, dtype=float)[order]
    n = np.arange(1, len(ys) + 1)
    m = min(min_prefix, len(ys))
    low = wilson_centre(np.cumsum(ys), n)[m - 1 :].min()
    high = wilson_centre(np.cumsum(ys[::-1]), n)[m - 1 :].max()
    return float(low), float(max(high, low + 1e-6))


def _design(kind: str, s: np.ndarray) -> np.ndarray:
    s = np.asarray(s, dtype=float)
    if kind == "platt":
        return np.column_stack([np.ones_like(s), s])
    return np.column_stack([np.ones_like(s), log_expit(s), -log_expit(-s)])


def _prior(kind: str, base_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Prior mean and standard deviation of theta: the identity map with the base rate's intercept."""
    centre = float(logit(np.clip(base_rate, 1e-4, 1 - 1e-4)))
    if kind == "platt":
        return np.array([centre, 1.0]), np.array([PRIOR_SD_INTERCEPT, PRIOR_SD_SLOPE])
    return np.array([centre, 1.0, 1.0]), np.array([PRIOR_SD_INTERCEPT, PRIOR_SD_SLOPE, PRIOR_SD_SLOPE])


@dataclass
class Calibrator:
    """A fitted calibration map; `kind` is one of METHODS (or "sigmoid": an old bundle's Platt fit)."""

    kind: str
    theta: list[float] = field(default_factory=list)
    lo: float = 0.0
    hi: float = 1.0
    cov: list[list[float]] = field(default_factory=list)
    x: list[float] = field(default_factory=list)  # isotonic steps
    y: list[float] = field(default_factory=list)

    def _unit(self, raw: np.ndarray) -> np.ndarray:
        return expit(_design(self.kind, raw) @ np.asarray(self.theta))

    def predict(self, raw: Any) -> np.ndarray:
        r = np.asarray(raw, dtype=float)
        if self.kind == "isotonic":
            return np.interp(r, np.asarray(self.x), np.asarray(self.y))
        if self.kind == "sigmoid":
            return expit(self.theta[1] * r + self.theta[0])
        return self.lo + (self.hi - self.lo) * self._unit(r)

    def band(self, raw: Any, level: float = BAND_LEVEL) -> tuple[np.ndarray, np.ndarray]:
        """The probability's interval at `level`: the posterior's for smooth maps (contains the point)."""
        r = np.asarray(raw, dtype=float)
        p = self.predict(r)
        if self.kind == "isotonic":  # the neighbouring steps: the map's resolution at this score
            x, y = np.asarray(self.x), np.asarray(self.y)
            j = np.searchsorted(x, r, side="right")
            lo, hi = y[np.clip(j - 2, 0, len(y) - 1)], y[np.clip(j, 0, len(y) - 1)]
            return np.minimum(np.minimum(lo, hi), p), np.maximum(np.maximum(lo, hi), p)
        if self.kind == "sigmoid" or not self.cov:
            return p, p
        d = _design(self.kind, r)
        eta = d @ np.asarray(self.theta)
        sd = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", d, np.asarray(self.cov), d), 0.0))
        z = float(norm.ppf(0.5 + level / 2))
        span = self.hi - self.lo
        return self.lo + span * expit(eta - z * sd), self.lo + span * expit(eta + z * sd)

    def to_json(self) -> dict[str, Any]:
        if self.kind == "isotonic":
            return {"kind": "isotonic", "x": self.x, "y": self.y}
        return {"kind": self.kind, "theta": self.theta, "lo": self.lo, "hi": self.hi, "cov": self.cov}

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> Calibrator:
        kind = payload.get("kind")
        if kind == "isotonic":
            return cls("isotonic", x=list(payload["x"]), y=list(payload["y"]))
        if kind == "sigmoid" and "coef" in payload:  # bundles written before the smooth calibrators
            return cls("sigmoid", theta=[float(payload["intercept"]), float(payload["coef"])])
        if kind in ("platt", "beta"):
            return cls(kind, list(payload["theta"]), float(payload["lo"]), float(payload["hi"]), payload.get("cov", []))
        raise InputError(f"unknown calibration kind {kind!r} in the bundle; expected one of {METHODS}")


def _neg_log_posterior(theta: np.ndarray, d: np.ndarray, y: np.ndarray, w: np.ndarray, lo: float, hi: float,
                       mu: np.ndarray, sd: np.ndarray) -> tuple[float, np.ndarray]:  # fmt: skip
    eta = d @ theta
    u = expit(eta)
    p = np.clip(lo + (hi - lo) * u, 1e-12, 1 - 1e-12)
    nll = -np.sum(w * (y * np.log(p) + (1 - y) * np.log1p(-p)))
    dp = (hi - lo) * u * (1 - u)
    grad_eta = -w * (y / p - (1 - y) / (1 - p)) * dp
    z = (theta - mu) / sd
    return float(nll + 0.5 * np.sum(z * z)), d.T @ grad_eta + z / sd


def _hessian(theta: np.ndarray, *args: Any) -> np.ndarray:
    """Numerical Hessian of the negative log posterior (central differences of its gradient)."""
    k = len(theta)
    h = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = 1e-5 * max(1.0, abs(theta[i]))
        h[:, i] = (_neg_log_posterior(theta + e, *args)[1] - _neg_log_posterior(theta - e, *args)[1]) / (2 * e[i])
    return (h + h.T) / 2


def fit_calibrator(kind: str, raw: Any, y: Any, sample_weight: Any = None) -> Calibrator:
    """Fit `kind` (one of METHODS) on out-of-fold raw scores and their 0/1 labels."""
    if kind not in METHODS:
        raise InputError(f"calibration must be one of {', '.join(METHODS)}; got {kind!r}")
    r = np.asarray(raw, dtype=float).ravel()
    yy = np.asarray(y, dtype=float).ravel()
    w = np.ones_like(yy) if sample_weight is None else np.asarray(sample_weight, dtype=float).ravel()
    if kind == "isotonic":
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(r, yy, sample_weight=w)
        return Calibrator("isotonic", x=iso.X_thresholds_.tolist(), y=iso.y_thresholds_.tolist())
    lo, hi = supported_bounds(r, yy)
    d = _design(kind, r)
    mu, sd = _prior(kind, float(np.average(yy, weights=w)))
    args = (d, yy, w, lo, hi, mu, sd)
    # slopes bounded above zero: the map stays strictly increasing, so it never ties distinct scores
    bounds = [(None, None)] + [(MIN_SLOPE, None)] * (len(mu) - 1)
    res = minimize(_neg_log_posterior, mu.copy(), args=args, jac=True, method="L-BFGS-B", bounds=bounds)
    theta = res.x
    try:
        cov = np.linalg.inv(_hessian(theta, *args))
        cov = cov if np.all(np.isfinite(cov)) and np.all(np.diag(cov) >= 0) else np.diag(sd**2)
    except np.linalg.LinAlgError:
        cov = np.diag(sd**2)
    return Calibrator(kind, theta.tolist(), lo, hi, cov.tolist())
