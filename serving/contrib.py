"""Scores and SHAP contributions for every target of one snapshot, computed once and cached.

LightGBM's native `booster.predict(X, pred_contrib=True)` is exactly what `shap.TreeExplainer` returns
for a LightGBM booster (STACK.md; a test keeps the two equal). It is n × (features + 1), the last
column the bias, in the booster's raw (log-odds) units. Tree walking costs seconds on a large
province, so contributions are written once per (snapshot, model version) to
`workspace/explanations/<snapshot_id>__v<model_version>/` and an explanation request only reads rows.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit

from training.bundle import Bundle
from training.model import _TIE_BREAK

SHAP_PREFIX = "shap::"
BIAS = "__bias__"
CACHE_FORMAT = 1


def contributions(booster: lgb.Booster, X: pd.DataFrame) -> pd.DataFrame:
    """Per-row SHAP values (raw margin units) for each column of X plus the bias column."""
    values = np.asarray(booster.predict(X.astype(float), pred_contrib=True))
    cols = [*X.columns, BIAS]
    return pd.DataFrame(values, columns=[SHAP_PREFIX + c for c in cols], index=X.index)


def probability_band(raw: np.ndarray, cal: dict) -> tuple[np.ndarray, np.ndarray]:
    """The probabilities of the neighbouring calibration steps around each raw score.

    Isotonic calibration maps a raw score onto a reliability step; the steps either side bound what
    the calibrated probability would be had the score moved by one step — the resolution of the
    estimate. For Platt (sigmoid) calibration, half a logit either side.
    """
    if cal["kind"] == "isotonic":
        x, y = np.asarray(cal["x"]), np.asarray(cal["y"])
        j = np.searchsorted(x, raw, side="right")
        lo = y[np.clip(j - 2, 0, len(y) - 1)]
        hi = y[np.clip(j, 0, len(y) - 1)]
    else:
        lo = expit(cal["coef"] * (raw - 0.5) + cal["intercept"])
        hi = expit(cal["coef"] * (raw + 0.5) + cal["intercept"])
    mix = lambda p: (1 - _TIE_BREAK) * p + _TIE_BREAK * expit(raw)  # noqa: E731
    return mix(np.minimum(lo, hi)), mix(np.maximum(lo, hi))


def score_facilities(bundle: Bundle, frame: pd.DataFrame) -> pd.DataFrame:
    """Predictions, the expected-recovery interval and contributions for every facility row.

    Interval: expected recovery is p × amount; its band is [p_lo × amount, p_hi × amount] with p_lo and
    p_hi the neighbouring calibration steps (`probability_band`). It shows how coarsely the risk is
    known from the findings the model was calibrated on; it does not include the amount model's own
    error, which the bundle does not record.
    """
    X = frame[bundle.features["facility"]].astype(float)
    pred = bundle.predict_frame(frame)
    raw = bundle.facility_risk.predict(X, raw_score=True)
    lo, hi = probability_band(raw, bundle.calibration["facility"])
    pred["recovery_low"] = np.minimum(lo * pred["amount_if_serious"], pred["expected_recovery"])
    pred["recovery_high"] = np.maximum(hi * pred["amount_if_serious"], pred["expected_recovery"])
    pred["risk_percentile"] = 100.0 * pred["p_serious"].rank(pct=True, method="average")
    return pd.concat([pred, contributions(bundle.facility_risk, X)], axis=1)


def score_physicians(bundle: Bundle, frame: pd.DataFrame) -> pd.DataFrame:
    if bundle.physician_risk is None:
        return pd.DataFrame({"p_risk": np.full(len(frame), np.nan), "risk_percentile": np.nan}, index=frame.index)
    X = frame[bundle.features["physician"]].astype(float)
    p = pd.Series(bundle.predict_physician(frame), index=frame.index, name="p_risk")
    out = pd.DataFrame({"p_risk": p, "risk_percentile": 100.0 * p.rank(pct=True, method="average")})
    return pd.concat([out, contributions(bundle.physician_risk, X)], axis=1)


def cache_dir(workspace: Path, snapshot_id: str, model_version: str) -> Path:
    return Path(workspace) / "explanations" / f"{snapshot_id}__v{model_version}"


def stamp_of(bundle: Bundle, snapshot_meta: dict) -> dict:
    """What the cache was computed from; any difference recomputes it."""
    return {
        "format": CACHE_FORMAT,
        "run_id": bundle.meta.get("run_id"),
        "trained_at": bundle.meta.get("trained_at"),
        "snapshot_fingerprint": snapshot_meta.get("fingerprint"),
    }


def read_cache(folder: Path, stamp: dict) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    try:
        if json.loads((folder / "stamp.json").read_text(encoding="utf-8")) != stamp:
            return None
        return pd.read_parquet(folder / "facility.parquet"), pd.read_parquet(folder / "physician.parquet")
    except (OSError, ValueError):
        return None


def write_cache(folder: Path, stamp: dict, facility: pd.DataFrame, physician: pd.DataFrame) -> None:
    """Atomic: written to a temp folder, renamed into place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    facility.to_parquet(tmp / "facility.parquet", index=False)
    physician.to_parquet(tmp / "physician.parquet", index=False)
    (tmp / "stamp.json").write_text(json.dumps(stamp), encoding="utf-8")
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
