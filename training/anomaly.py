"""The unsupervised peer-anomaly score: how unusual a target looks among its peers, no labels used.

An isolation forest on the peer-normalised features (robust z within type × tier). It is fitted on
one snapshot's targets alone, so it needs no inspection history: it ranks facility types no
inspection has labelled yet, it is a baseline the supervised model must beat, and it is one of the
model's inputs. Higher = more unusual.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from features.snapshot.registry import PEER_Z, Level, features

ANOMALY_COLUMN = "anomaly_score"
N_TREES = 200
MAX_SAMPLES = 256  # rows per tree, at most the snapshot's
CLIP = 10.0  # |z| beyond this is as unusual as it gets


def peer_z_columns(level: Level) -> list[str]:
    return [f.name + PEER_Z for f in features(level) if f.peer]


def anomaly_spec(level: Level) -> dict[str, Any]:
    """The forest's recipe for one level under the current declarations (a bundle records it)."""
    return {"columns": peer_z_columns(level), "n_estimators": N_TREES, "max_samples": MAX_SAMPLES, "clip": CLIP}


def score_with(frame: pd.DataFrame, spec: dict[str, Any], seed: int) -> np.ndarray:
    """Isolation-forest outlyingness on the peer z-scores of every row of one snapshot, fitted on those rows."""
    cols = [c for c in spec["columns"] if c in frame.columns]
    if len(frame) < 2 or not cols:
        return np.zeros(len(frame))
    X = frame[cols].astype(float).fillna(0.0).clip(-spec["clip"], spec["clip"]).to_numpy()
    forest = IsolationForest(
        n_estimators=spec["n_estimators"], max_samples=min(spec["max_samples"], len(frame)), random_state=seed, n_jobs=1
    )
    forest.fit(X)
    return -forest.score_samples(X)
