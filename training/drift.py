"""Drift: has the province moved since the champion was trained?

Population stability index (PSI) per model column between the snapshot the champion was trained on
and the newest one, and the same for the scores the champion gives both. Bins are the reference's
deciles (ties merged), a small floor keeps empty bins finite. Read as usual: < 0.1 stable, 0.1–0.25
moderate, > 0.25 a shift worth a retrain.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

STABLE, SHIFT = 0.1, 0.25
_FLOOR = 1e-4


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """PSI of `current` against `reference` on the reference's quantile bins (NaN as its own bin)."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    if ref.size == 0 or cur.size == 0:
        return float("nan")
    ref_ok, cur_ok = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    edges = np.unique(np.quantile(ref_ok, np.linspace(0, 1, bins + 1)[1:-1])) if ref_ok.size else np.array([])

    def shares(x: np.ndarray, ok: np.ndarray) -> np.ndarray:
        counts = np.bincount(np.searchsorted(edges, ok, side="right"), minlength=edges.size + 1).astype(float)
        counts = np.append(counts, x.size - ok.size)  # the missing-value bin
        return np.maximum(counts / x.size, _FLOOR)

    p, q = shares(ref, ref_ok), shares(cur, cur_ok)
    return float(np.sum((q - p) * np.log(q / p)))


def level(value: float) -> str:
    if value != value:
        return "n/a"
    return "stable" if value < STABLE else ("moderate" if value < SHIFT else "shift")


def feature_drift(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """One row per column: psi and its reading, largest first."""
    rows = [
        {"feature": c, "psi": psi(reference[c].to_numpy(float), current[c].to_numpy(float))}
        for c in columns
        if c in reference.columns and c in current.columns
    ]
    out = pd.DataFrame(rows, columns=["feature", "psi"])
    out["level"] = out["psi"].map(level)
    return out.sort_values("psi", ascending=False, na_position="last").reset_index(drop=True)
