"""Peer normalisation: robust z-scores and percentiles within peer groups.

A tertiary hospital is compared with tertiary hospitals of its type, a physician with the same
department at the same tier. The statistics are data (`PeerStats`), kept with the snapshot and,
later, inside the model bundle, so that serving normalises a new row exactly as training did.
Groups with fewer than `min_group` values fall back to a broader group.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.snapshot.registry import PEER_PCT, PEER_Z, Level, features

MIN_GROUP = 5
Z_CLIP = 20.0
QUANTILES = np.linspace(0.0, 1.0, 101)


def fallback_group(level: Level, peer_group: str) -> str:
    """Facility 'type|tier' → 'tier:<tier>'; physician 'dept|tier' → 'dept:<dept>'."""
    head, _, tail = peer_group.partition("|")
    return f"tier:{tail}" if level == "facility" else f"dept:{head}"


def _scale(x: np.ndarray, med: float) -> float:
    dev = np.abs(x - med)
    for s in (1.4826 * np.median(dev), 1.2533 * dev.mean(), x.std()):
        if s > 1e-12:
            return float(s)
    return 1.0


@dataclass
class PeerStats:
    """median, scale and a quantile grid per (group, feature)."""

    level: Level
    median: dict[str, dict[str, float]] = field(default_factory=dict)
    scale: dict[str, dict[str, float]] = field(default_factory=dict)
    grid: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    count: dict[str, dict[str, int]] = field(default_factory=dict)

    def has(self, group: str, feature: str) -> bool:
        return self.count.get(group, {}).get(feature, 0) >= MIN_GROUP

    def resolve(self, group: str, feature: str) -> str | None:
        if self.has(group, feature):
            return group
        fb = fallback_group(self.level, group)
        return fb if self.has(fb, feature) else None

    def to_frame(self) -> pd.DataFrame:
        rows = [
            {"group": g, "feature": f, "median": m, "scale": self.scale[g][f], "n": self.count[g][f]}
            for g, d in self.median.items()
            for f, m in d.items()
        ]
        return pd.DataFrame(rows, columns=["group", "feature", "median", "scale", "n"])


def denoise(x: np.ndarray) -> np.ndarray:
    """Values rounded to 12 significant digits.

    Parallel float sums (DuckDB, Spark) differ between runs in the last bits; without this, two
    peers with the same amount could swap percentile ranks from one run to the next (and with them
    the model), although the data and the seed are the same.
    """
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.where(np.isfinite(x) & (x != 0), np.floor(np.log10(np.abs(x))), 0.0)
    scale = np.power(10.0, 11.0 - mag)
    return np.where(np.isfinite(x), np.round(x * scale) / scale, x)


def fit(frame: pd.DataFrame, level: Level) -> PeerStats:
    stats = PeerStats(level=level)
    groups = frame["peer_group"].astype(str)
    keyed = {"own": groups, "fallback": groups.map(lambda g: fallback_group(level, g))}
    for feat in features(level):
        if not feat.peer:
            continue
        values = pd.Series(denoise(frame[feat.name].astype(float).to_numpy()), index=frame.index)
        for key in keyed.values():
            for g, x in values.groupby(key):
                arr = np.sort(x.dropna().to_numpy())  # sorted: the mean/std fallbacks then ignore row order
                if arr.size == 0:
                    continue
                med = float(np.median(arr))
                stats.median.setdefault(g, {})[feat.name] = med
                stats.scale.setdefault(g, {})[feat.name] = _scale(arr, med)
                stats.count.setdefault(g, {})[feat.name] = int(arr.size)
                stats.grid.setdefault(g, {})[feat.name] = np.quantile(arr, QUANTILES).tolist()
    return stats


def mid_rank(grid: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Share of peers below the value plus half of those equal to it, read off the quantile grid.

    A value equal to every peer sits at 0.5, not at the top; the peer maximum sits just under 1.
    """
    lo = np.searchsorted(grid, x, side="left")
    hi = np.searchsorted(grid, x, side="right")
    return (lo + hi) / (2.0 * grid.size)


def transform(frame: pd.DataFrame, stats: PeerStats) -> pd.DataFrame:
    """Add `<feature>__pz` and `<feature>__pct` columns (NaN where the value or its peers are missing)."""
    out = {}
    groups = frame["peer_group"].astype(str).to_numpy()
    for feat in features(stats.level):
        if not feat.peer:
            continue
        x = denoise(frame[feat.name].astype(float).to_numpy())
        z = np.full(x.shape, np.nan)
        pct = np.full(x.shape, np.nan)
        for g in np.unique(groups):
            rows = groups == g
            src = stats.resolve(g, feat.name)
            if src is None:
                continue
            med, scale = stats.median[src][feat.name], stats.scale[src][feat.name]
            z[rows] = np.clip((x[rows] - med) / scale, -Z_CLIP, Z_CLIP)
            pct[rows] = mid_rank(np.asarray(stats.grid[src][feat.name]), x[rows])
        nan = np.isnan(x)
        z[nan] = np.nan
        pct[nan] = np.nan
        out[feat.name + PEER_Z] = z
        out[feat.name + PEER_PCT] = pct
    return pd.concat([frame.reset_index(drop=True), pd.DataFrame(out)], axis=1)
