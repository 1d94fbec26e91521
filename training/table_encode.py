"""How a prepared table's columns become model features, learnt on the training part and applied as is.

- numbers stay numbers (text that is all numbers too);
- booleans and yes/no text become 1/0;
- other text with few distinct values is a category (LightGBM's categorical features): its levels are
  those seen in the training part, so a value never seen there is missing at scoring, never a new level;
- text with too many distinct values to be a category (an id, a free-text note) is dropped, with a note.

The encoder is what the logged model carries: the MLflow model takes the table's raw columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

TRUE_WORDS = {"yes", "y", "true", "t", "1", "1.0", "是"}
FALSE_WORDS = {"no", "n", "false", "f", "0", "0.0", "否"}
MAX_LEVELS = 200  # more distinct values than this (or than half the rows) is not a category


def _text(col: pd.Series) -> pd.Series:
    return col.astype("string").str.strip().where(col.notna())


def _yes_no(text: pd.Series) -> pd.Series | None:
    low = text.str.lower()
    if set(low.dropna().unique()) <= TRUE_WORDS | FALSE_WORDS:
        return low.map(lambda v: np.nan if pd.isna(v) else float(v in TRUE_WORDS)).astype(float)
    return None


@dataclass
class TableEncoder:
    """Per column: "num", "bool" or "cat" (with its training levels); the rest dropped."""

    kinds: dict[str, str] = field(default_factory=dict)
    levels: dict[str, list[str]] = field(default_factory=dict)

    def fit(self, frame: pd.DataFrame, note: Callable[[str], None]) -> TableEncoder:
        n = len(frame)
        for name in frame.columns:
            col = frame[name]
            if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
                self.kinds[name] = "num"
                continue
            text = _text(col)
            if pd.to_numeric(text, errors="coerce").notna().sum() == text.notna().sum():
                self.kinds[name] = "num"
            elif _yes_no(text) is not None:
                self.kinds[name] = "bool"
            else:
                levels = sorted(text.dropna().unique().tolist())
                if len(levels) <= min(MAX_LEVELS, max(2, n // 2)):
                    self.kinds[name], self.levels[name] = "cat", levels
                else:
                    note(f"dropped column '{name}': text with {len(levels):,} distinct values in {n:,} rows "
                         f"(an id or free text, not a category of at most {MAX_LEVELS})")
        return self

    @property
    def features(self) -> list[str]:
        return list(self.kinds)

    @property
    def categorical(self) -> list[str]:
        return [c for c, k in self.kinds.items() if k == "cat"]

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The features of `frame`: floats, and categories with the training levels (others missing)."""
        out = {}
        for name, kind in self.kinds.items():
            col = frame[name] if name in frame.columns else pd.Series(np.nan, index=frame.index)
            if kind == "num":
                out[name] = pd.to_numeric(col if pd.api.types.is_numeric_dtype(col) else _text(col),
                                          errors="coerce").astype(float)
            elif kind == "bool":
                out[name] = _yes_no(_text(col).str.lower().where(lambda s: s.isin(TRUE_WORDS | FALSE_WORDS)))
            else:
                out[name] = pd.Categorical(_text(col), categories=self.levels[name])
        return pd.DataFrame(out, index=frame.index)

    def unseen(self, frame: pd.DataFrame) -> dict[str, int]:
        """Per column, how many of `frame`'s values the training part gives no meaning: a category never
        seen there, text in a number column, neither yes nor no in a yes/no column (all scored as missing)."""
        out = {}
        for name, kind in self.kinds.items():
            if name not in frame.columns:
                continue
            text = _text(frame[name])
            if kind == "cat":
                bad = ~text.isin(self.levels[name])
            elif kind == "num":
                bad = pd.to_numeric(text, errors="coerce").isna() if not pd.api.types.is_numeric_dtype(
                    frame[name]) else pd.Series(False, index=frame.index)
            else:
                bad = ~text.str.lower().isin(TRUE_WORDS | FALSE_WORDS)
            n = int((text.notna() & bad).sum())
            if n:
                out[name] = n
        return out
