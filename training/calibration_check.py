"""What the backtest says about the numbers planners read: which calibration, and how wide the interval.

Every fold of the backtest carries its risk model's out-of-fold scores (`Fold.oof`) and, for every
candidate, the raw margin and the amount if serious. That is enough to refit any calibrator on the
fold's own training data and re-score the fold's held-out round without touching features:

- `calibration_table` scores each method of training.calibration on the held-out rounds, pooled: log
  loss, expected calibration error (ECE), Brier score and the highest probability, on the random
  slice (inspections drawn at random: the population planners ask about) and on every inspection.
- `choose_calibration` keeps the smooth method with the lowest random-slice log loss (every
  inspection when the random slice is too small to judge); isotonic is scored for comparison only,
  since its steps tie facilities and reach 0 and 1.
- `recovery_interval` is a split-conformal prediction interval for the amount an inspection recovers:
  the quantiles of recovered / expected over the backtest's inspections, per band of risk (Mondrian
  conformal: a 5 % facility's outcome spreads differently from a 60 % one's). The same quantiles
  computed without a fold and checked on it give the out-of-sample coverage reported beside them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from training import metrics
from training.backtest import Fold, run_backtest
from training.calibration import METHODS, fit_calibrator
from training.model import calibrated

SMOOTH = ("platt", "beta")
MIN_RANDOM = 30
ECE_BINS = 5
INTERVAL_LEVEL = 0.90
RISK_BANDS = (0.0, 0.15, 0.40, 1.0)  # p_serious bands the interval's quantiles are taken in
MIN_BAND = 20  # a band with fewer backtest inspections takes the pooled quantiles


def ece(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error: |mean predicted - observed| per equal-width bin, weighted by rows."""
    curve = metrics.reliability_curve(y, p, bins)
    return float(sum(n * abs(a - b) for a, b, n in curve) / max(len(y), 1))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log1p(-q)))


def _scored(folds: list[Fold], method: str) -> pd.DataFrame:
    """The held-out inspections of every fold, with p from `method` fitted on the fold's own OOF scores."""
    parts = []
    for f in folds:
        if f.oof is None:
            continue
        cal = fit_calibrator(method, *f.oof)
        lab = f.labelled
        parts.append(pd.DataFrame({
            "selection": lab["selection"].to_numpy(),
            "y": lab["serious"].to_numpy(dtype=float),
            "p": calibrated(cal, lab["raw_serious"].to_numpy(dtype=float)),
            "hi": cal.hi if cal.kind in SMOOTH else 1.0,
        }))  # fmt: skip
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["selection", "y", "p", "hi"])


def _summary(d: pd.DataFrame) -> dict[str, float]:
    y, p = d["y"].to_numpy(dtype=float), d["p"].to_numpy(dtype=float)
    if len(y) == 0:
        return {"n": 0}
    return {
        "n": len(y),
        "log_loss": log_loss(y, p),
        "ece": ece(y, p),
        "ece_10_bins": ece(y, p, 10),
        "brier": metrics.brier(y, p),
        "max_p": float(p.max()),
        "above_supported": int((p > d["hi"].to_numpy(dtype=float) + 1e-12).sum()),
    }


def calibration_table(folds: list[Fold]) -> dict[str, dict[str, dict[str, float]]]:
    """{method: {"random_slice": …, "all": …}} over the held-out rounds."""
    out = {}
    for method in METHODS:
        d = _scored(folds, method)
        out[method] = {"random_slice": _summary(d[d["selection"] == "random"]), "all": _summary(d)}
    return out


def choose_calibration(table: dict[str, dict[str, dict[str, float]]]) -> tuple[str, str]:
    """(method, the slice it was judged on): the smooth method with the lowest log loss."""
    n_random = table["platt"]["random_slice"].get("n", 0)
    judged = "random_slice" if n_random >= MIN_RANDOM else "all"
    scored = [(table[m][judged].get("log_loss", np.inf), i, m) for i, m in enumerate(SMOOTH)]
    return min(scored)[2], judged


def recalibrate(folds: list[Fold], method: str) -> None:
    """Re-score every fold with `method` fitted on its own OOF scores (p_serious and the model's ranking)."""
    for f in folds:
        if f.oof is None:
            continue
        cal = fit_calibrator(method, *f.oof)
        for frame in (f.candidates, f.labelled):
            p = calibrated(cal, frame["raw_serious"].to_numpy(dtype=float))
            frame["p_serious"] = p
            frame["model"] = p * frame["amount_if_serious"].to_numpy(dtype=float)


def calibrated_backtest(
    rounds: list, columns: list[str], params: dict | None, seed: int, weighting: Any
) -> tuple[list[Fold], dict[str, Any]]:
    """The backtest (each round from the fourth on scored by a model of the rounds before it), its folds
    calibrated by the method the held-out rounds choose; the choice, every method's scores, the interval."""
    folds = run_backtest(rounds, columns, params, seed, weighting, min_train_rounds=min(3, len(rounds) - 1))
    table = calibration_table(folds)
    method, judged = choose_calibration(table) if folds else ("platt", "none")
    recalibrate(folds, method)
    return folds, {"method": method, "judged_on": judged, "methods": table, "recovery": recovery_interval(folds)}


def _band_of(p: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(np.asarray(RISK_BANDS[1:-1]), p, side="right"), 0, len(RISK_BANDS) - 2)


def _ratio_interval(r: np.ndarray, level: float) -> tuple[float, float]:
    """The central `level` interval of recovered / expected ratios `r`, with an atom at zero handled.

    Many inspections recover nothing: when the lower quantile is 0, the interval already holds every
    zero and the upper end is the `level` quantile (not the upper tail's), so it covers `level`, not more.
    The finite-sample conformal correction ((n + 1) / n) keeps the coverage at least `level` out of sample.
    """
    n = len(r)
    if n == 0:
        return 0.0, 1.0
    adj = (n + 1) / n
    low = float(np.quantile(r, (1 - level) / 2, method="lower"))
    below = float((r < low).mean())
    high = float(np.quantile(r, min(1.0, (below + level) * adj), method="higher"))
    return min(low, 1.0), max(high, 1.0)


def _ratios(rows: pd.DataFrame, level: float) -> list[tuple[float, float, int]]:
    """(low, high, n) ratio quantiles per risk band; each band's interval contains 1 (the point)."""
    out = []
    ratio = (rows["y"] / rows["pred"]).to_numpy(dtype=float)
    band = _band_of(rows["p"].to_numpy(dtype=float))
    for b in range(len(RISK_BANDS) - 1):
        r = ratio[band == b]
        if len(r) < MIN_BAND:  # too few to take quantiles from: the pooled ones
            r = ratio
        out.append((*_ratio_interval(r, level), int((band == b).sum())))
    return out


def _covered(rows: pd.DataFrame, ratios: list[tuple[float, float, int]]) -> np.ndarray:
    band = _band_of(rows["p"].to_numpy(dtype=float))
    low = np.array([ratios[b][0] for b in band]) * rows["pred"].to_numpy(dtype=float)
    high = np.array([ratios[b][1] for b in band]) * rows["pred"].to_numpy(dtype=float)
    y = rows["y"].to_numpy(dtype=float)
    return (y >= low - 1e-6) & (y <= high + 1e-6)


def recovery_interval(folds: list[Fold], level: float = INTERVAL_LEVEL) -> dict[str, Any]:
    """Ratio quantiles per risk band for the bundle, with the leave-one-round-out coverage."""
    parts = [
        pd.DataFrame({
            "round": f.batch,
            "y": f.labelled["amount_recovered"].to_numpy(dtype=float),
            "pred": f.labelled["model"].to_numpy(dtype=float),
            "p": f.labelled["p_serious"].to_numpy(dtype=float),
        })
        for f in folds
    ]  # fmt: skip
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["round", "y", "pred", "p"])
    rows = rows[rows["pred"] > 0]
    if len(rows) < 20:
        return {}
    hits = []
    rounds = rows["round"].unique()
    for r in rounds if len(rounds) > 1 else []:  # one round: nothing to hold out, no out-of-sample figure
        held, rest = rows[rows["round"] == r], rows[rows["round"] != r]
        hits.append(_covered(held, _ratios(rest, level)))
    ratios = _ratios(rows, level)
    return {
        "level": level,
        "method": "split conformal on recovered / expected, per risk band (Mondrian), backtest inspections",
        "bands": [
            {"p_from": RISK_BANDS[b], "p_to": RISK_BANDS[b + 1], "low_ratio": lo, "high_ratio": hi, "n": n}
            for b, (lo, hi, n) in enumerate(ratios)
        ],
        "n": len(rows),
        "coverage_leave_one_round_out": float(np.concatenate(hits).mean()) if hits else None,
        "coverage_in_sample": float(_covered(rows, ratios).mean()),
    }


def interval_text(spec: dict[str, Any] | None) -> tuple[str, str]:
    """(label, basis) in Chinese for the page and the reports: what the two intervals mean."""
    if not spec:
        return "区间", "概率区间为校准曲线的 90% 后验区间；追回金额区间为概率区间 × 严重问题预计追回金额。"
    level = round(100 * spec["level"])
    cover = spec.get("coverage_leave_one_round_out")
    measured = f"回测中留一轮检验的实际覆盖率 {100 * cover:.0f}%" if cover is not None else "覆盖率未测"
    return (
        f"{level}% 预测区间",
        f"概率区间为校准曲线的 90% 后验区间。追回金额区间：同一风险段的历次检查中，约 {level}% 的实际追回金额"
        f"落在此区间内（按回测中实际追回 ÷ 预计追回的分位数，{measured}，共 {spec.get('n', 0)} 次检查）。",
    )


def interval_for(spec: dict[str, Any], p: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) recovered amount per row from a `recovery_interval` spec; both contain `expected`."""
    bands = spec["bands"]
    edges = np.asarray([b["p_from"] for b in bands[1:]])
    which = np.clip(np.searchsorted(edges, p, side="right"), 0, len(bands) - 1)
    low = np.array([bands[b]["low_ratio"] for b in which]) * expected
    high = np.array([bands[b]["high_ratio"] for b in which]) * expected
    return np.minimum(low, expected), np.maximum(high, expected)
