"""Model variants on the Kaggle provider-fraud table, paired on the same splits as bench_kaggle.py.

    .venv/bin/python benchmarks/bench_kaggle_variants.py [--seeds 0,1,2,3,4]

For each 80/20 split (stratified by label, by provider id) every variant is fitted on the training
part only and scored on the held-out providers; "cv" is the training part's out-of-fold ranking
(LightGBM: the RiskModel's own out-of-fold scores; forest and logistic: 5-fold predictions).
Blends average percentile ranks. Slow (about 5 minutes a seed on a quiet 2-core machine).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from training import metrics
from training.model import RiskModel
from training.table import load_xy, split_ids

FILE = "/work/shared/data/external/kaggle-provider-fraud/train_final.csv"
LGB_VARIANTS = {
    "lgb": None,
    "lgb_lr0.02": {"learning_rate": 0.02},
    "lgb_extra_trees": {"extra_trees": True},
    "lgb_regularised": {"num_leaves": 7, "min_data_in_leaf": 40, "lambda_l2": 10.0},
    "lgb_is_unbalance": {"is_unbalance": True},
}
BLENDS = (("lgb", "rf"), ("lgb", "logit"), ("lgb", "rf", "logit"))


def run_seed(X: pd.DataFrame, y: np.ndarray, ids: pd.Series, seed: int) -> list[dict]:
    tr, te, _ = split_ids(ids, y, None, 0.2, seed)
    Xtr, Xte, ytr, yte = X.iloc[tr], X.iloc[te], y[tr], y[te]
    oof, test = {}, {}
    for name, params in LGB_VARIANTS.items():
        m = RiskModel(params=params, seed=seed).fit(Xtr, ytr)
        oof[name], test[name] = m.oof_raw_, m.raw_score(Xte)
        if name == "lgb":
            test["lgb_isotonic_steps"] = m.calibrator_.predict(test[name])
            oof["lgb_isotonic_steps"] = m.calibrator_.predict(oof[name])
            test["lgb_served"] = m.predict_proba(Xte)
            oof["lgb_served"] = oof[name]
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    rf = RandomForestClassifier(500, min_samples_leaf=3, max_features=0.3, n_jobs=1, random_state=seed)
    oof["rf"] = cross_val_predict(rf, Xtr, ytr, cv=folds, method="predict_proba")[:, 1]
    test["rf"] = rf.fit(Xtr, ytr).predict_proba(Xte)[:, 1]
    logs = np.log1p(X.clip(lower=0)).fillna(0)
    logit = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))
    oof["logit"] = cross_val_predict(logit, logs.iloc[tr], ytr, cv=folds, method="predict_proba")[:, 1]
    test["logit"] = logit.fit(logs.iloc[tr], ytr).predict_proba(logs.iloc[te])[:, 1]
    for combo in BLENDS:
        name = "+".join(combo)
        oof[name] = np.mean([rankdata(oof[k]) for k in combo], axis=0)
        test[name] = np.mean([rankdata(test[k]) for k in combo], axis=0)
    return [
        {
            "seed": seed,
            "model": k,
            "cv_auc": metrics.auc(ytr, oof[k]),
            "cv_ap": metrics.average_precision(ytr, oof[k]),
            "test_auc": metrics.auc(yte, test[k]),
            "test_ap": metrics.average_precision(yte, test[k]),
        }
        for k in test
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    args = parser.parse_args()
    ids, X, y, _ = load_xy(FILE, "Provider", "PotentialFraud", None, None, lambda _m: None)
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        rows += run_seed(X, y, ids, seed)
        print(f"seed {seed} done", flush=True)
    out = pd.DataFrame(rows)
    cols = ["cv_auc", "cv_ap", "test_auc", "test_ap"]
    print(out.groupby("model")[cols].agg(["mean", "std"]).round(4).to_string())
    base = out[out.model == "lgb"].set_index("seed")[cols]
    paired = {m: (g.set_index("seed")[cols] - base).mean() for m, g in out.groupby("model") if m != "lgb"}
    print("paired change against lgb (mean over seeds):")
    print(pd.DataFrame(paired).T.round(4).to_string())


if __name__ == "__main__":
    main()
