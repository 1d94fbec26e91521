"""SHAP contributions for every target of one snapshot, computed once and cached with the scores.

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

from feijian.settings import Workspace

SHAP_PREFIX = "shap::"
BIAS = "__bias__"
CACHE_FORMAT = 1


def contributions(booster: lgb.Booster, X: pd.DataFrame) -> pd.DataFrame:
    """Per-row SHAP values (raw margin units) for each column of X plus the bias column."""
    values = np.asarray(booster.predict(X.astype(float), pred_contrib=True))
    cols = [*X.columns, BIAS]
    return pd.DataFrame(values, columns=[SHAP_PREFIX + c for c in cols], index=X.index)


def cache_dir(workspace: Path, snapshot_id: str, model_version: str) -> Path:
    return Workspace(Path(workspace)).explanation(snapshot_id, model_version)


def stamp_of(bundle_meta: dict, snapshot_meta: dict) -> dict:
    """What the cache was computed from (the bundle's meta.json, the snapshot's); any difference recomputes it."""
    return {
        "format": CACHE_FORMAT,
        "run_id": bundle_meta.get("run_id"),
        "trained_at": bundle_meta.get("trained_at"),
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
