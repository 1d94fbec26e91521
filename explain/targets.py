"""One level's targets (facilities or physicians): rows, contributions, and reasons read off them.

`TargetRows` holds one level's snapshot rows with context, scores and SHAP columns (explain.contrib),
groups the model columns into themes (explain.reasons) once, and turns a row's contributions into
reasons with the value, the peer median (the snapshot's peer statistics, with the same fallback to a
broader group the peer z-scores used) and the percentile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explain import contrib as cb
from explain.reasons import base_of, is_reason_column, reason_text, side_of, theme_of
from features.snapshot import peer as peer_mod
from features.snapshot import registry
from features.snapshot.registry import PEER_PCT, PEER_Z, Level
from feijian.errors import InputError

MAX_REASONS = 8
MIN_SHARE = 0.05  # a theme adding less than 5% of the leading theme's push is noise, not a reason
PEER_WORD = {"facility": "同类同级机构中位数", "physician": "同科室医师中位数"}


class UnknownTargetError(InputError):
    """A facility or physician code that is not in the snapshot."""

    http_status = 404


@dataclass
class TargetRows:
    """One level's rows (features + context + scores + contributions) and how to read reasons off them."""

    level: Level
    key: str
    frame: pd.DataFrame
    columns: list[str]
    peer: dict[tuple[str, str], tuple[float, int]]
    _themes: list[tuple[str, str, list[int], list[str]]] = field(default_factory=list)  # id, hint, cols, bases
    _pos: dict[str, int] = field(default_factory=dict)
    _shap: np.ndarray | None = None

    def __post_init__(self) -> None:
        self._pos = {c: i for i, c in enumerate(self.frame[self.key].astype(str))}
        groups: dict[str, tuple[str, list[int], list[str]]] = {}
        for j, col in enumerate(self.columns):
            if not is_reason_column(col):
                continue
            t = theme_of(col)
            _hint, idx, bases = groups.setdefault(t.id, (t.hint, [], []))
            idx.append(j)
            if base_of(col) not in bases:
                bases.append(base_of(col))
        self._themes = [(tid, hint, idx, bases) for tid, (hint, idx, bases) in groups.items()]

    @property
    def has_shap(self) -> bool:
        return bool(self.columns) and cb.SHAP_PREFIX + self.columns[0] in self.frame.columns

    def shap(self) -> np.ndarray:
        """Contributions, one row per target and one column per model feature (read-only, built once)."""
        if self._shap is None:
            self._shap = self.frame[[cb.SHAP_PREFIX + c for c in self.columns]].to_numpy(dtype=float)
            self._shap.flags.writeable = False
        return self._shap

    def row(self, code: str) -> int:
        if str(code) not in self._pos:
            raise UnknownTargetError(
                f"{self.level} code {code!r} is not in this snapshot ({len(self._pos)} {self.level} rows)",
                zh=f"本期数据中没有{'机构' if self.level == 'facility' else '医师'} {code}，请核对编号",
            )
        return self._pos[str(code)]

    def median(self, group: str, feature: str) -> float | None:
        for g in (group, peer_mod.fallback_group(self.level, group)):
            med, n = self.peer.get((g, feature), (None, 0))
            if med is not None and n >= peer_mod.MIN_GROUP:
                return med
        return None

    def reasons(
        self, i: int, values: np.ndarray, top: int | None = None, row: pd.Series | None = None
    ) -> list[dict[str, Any]]:
        """Themes with a positive summed contribution for row i (`row`: frame.iloc[i] if the caller has it)."""
        totals = [(values[idx].sum(), tid, hint, idx, bases) for tid, hint, idx, bases in self._themes]
        totals = sorted((t for t in totals if t[0] > 0), key=lambda t: -t[0])
        floor = MIN_SHARE * totals[0][0] if totals else 0.0
        totals = [t for t in totals if t[0] >= floor][: top or MAX_REASONS]
        if row is None:
            row = self.frame.iloc[i]
        ftype = _facility_type(row)
        out = []
        for total, tid, hint, idx, bases in totals:
            by_base = {b: sum(values[j] for j in idx if base_of(self.columns[j]) == b) for b in bases}
            # the lead is the base feature pushing most that can be phrased as this risk: a missing,
            # inapplicable or level value, or one on the side the feature does not declare, is no reason
            for lead in sorted((b for b in by_base if by_base[b] > 0), key=lambda b: -by_base[b]):
                value = as_number(row.get(lead))
                pct = as_number(row.get(lead + PEER_PCT))
                med = self.median(str(row["peer_group"]), lead)
                text = reason_text(lead, value, med, pct, hint, PEER_WORD[self.level], ftype)
                if text is not None:
                    break
            else:
                continue
            side = side_of(value, med, pct)
            out.append(
                {
                    "theme": tid,
                    "text": text,
                    "contribution": float(total),
                    "feature": lead,
                    "feature_contribution": float(by_base[lead]),
                    "label": registry.column_label(lead),  # a reason's lead is always a registry feature
                    "value": value,
                    "peer_median": med,
                    "percentile": None if pct is None else round(100 * pct, 1),
                    "direction": "高于" if side == "high" else "低于",
                    "columns": [self.columns[j] for j in idx],
                }
            )
        return out

    def top_reasons(self, k: int = 3) -> list[list[str]]:
        if not self.has_shap:
            return [[] for _ in range(len(self.frame))]
        S = self.shap()
        return [[r["text"] for r in self.reasons(i, S[i], top=k)] for i in range(len(S))]


def _facility_type(row: pd.Series) -> str | None:
    """The facility type of a facility row (or a physician row that carries its facility's), if known."""
    v = row.get("fixmedins_type")
    return None if v is None or v != v else str(v)


def as_number(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if f != f else f


def render_value(column: str, value: float | None) -> str:
    """A model column's value as a report prints it: the feature's own format, z-scores and percentiles plain;
    a feature without a value (a pharmacy's bed-days) is 不适用, never a number."""
    if value is None:
        return "不适用" if is_reason_column(column) else "—"
    if column.endswith(PEER_PCT):
        return f"第{round(100 * value)}百分位"
    if column.endswith(PEER_Z):
        return f"{value:+.2f}"
    try:
        return registry.get(column).render(value)
    except KeyError:
        return f"{value:.3g}"


def peer_lookup(path: Path) -> dict[tuple[str, str], tuple[float, int]]:
    if not path.is_file():
        return {}
    df = pd.read_parquet(path)
    return {
        (g, f): (float(m), int(n)) for g, f, m, n in zip(df["group"], df["feature"], df["median"], df["n"], strict=True)
    }
