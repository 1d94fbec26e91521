"""The unsupervised peer-anomaly score: how unusual a target looks among its peers, no labels used.

An isolation forest on the peer-normalised features (robust z within type × tier). It is fitted on
one snapshot's targets alone, so it needs no inspection history: it ranks facility types no
inspection has labelled yet, it is a baseline the supervised model must beat, and it is one of the
model's inputs. Higher = more unusual.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from features.registry import PEER_Z, Level, features

ANOMALY_COLUMN = "anomaly_score"
N_TREES = 200


def peer_z_columns(level: Level) -> list[str]:
    return [f.name + PEER_Z for f in features(level) if f.peer]


def anomaly_score(frame: pd.DataFrame, level: Level, seed: int = 0) -> np.ndarray:
    """Isolation-forest outlyingness on the peer z-scores of every row of one snapshot."""
    cols = [c for c in peer_z_columns(level) if c in frame.columns]
    if len(frame) < 2 or not cols:
        return np.zeros(len(frame))
    X = frame[cols].astype(float).fillna(0.0).clip(-10, 10).to_numpy()
    forest = IsolationForest(n_estimators=N_TREES, max_samples=min(256, len(frame)), random_state=seed, n_jobs=1)
    forest.fit(X)
    return -forest.score_samples(X)
