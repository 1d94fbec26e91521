"""Held-out ranking quality on a public labelled table (by default the real Kaggle provider-fraud
table), over several split seeds, against a default gradient-boosting baseline on the same splits.

    .venv/bin/python benchmarks/bench_kaggle.py [--file CSV --id COL --label COL [--positive V]] [--seeds 5] [--tune N]

Another table, e.g. the public vehicle-claims table (fraud_oracle.csv, mostly categories):
`--file fraud_oracle.csv --id PolicyNumber --label FraudFound_P`.

Each seed draws its own 80/20 split stratified by label, by provider id; the model never sees the
test providers (cross-validation, early stopping, calibration and any tuning use the training part
only). One split can be lucky, so the mean and spread over seeds is
the figure to quote.
With --tune N, N Optuna trials on the training part's CV pick the parameters for each seed. Each
seed's split is also scored by a default scikit-learn HistGradientBoosting baseline (issue #21).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from training.table import train_table

DEFAULT_FILE = Path("/work/shared/data/external/kaggle-provider-fraud/train_final.csv")
COLUMNS = ("cv_auc_mean", "cv_ap_mean", "test_auc", "test_ap", "baseline_auc", "baseline_ap", "precision_at_k",
           "brier", "seconds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--id", default="Provider", help="id column")
    parser.add_argument("--label", default="PotentialFraud", help="label column")
    parser.add_argument("--positive", default=None, help="the label value that is positive, for text labels")
    parser.add_argument("--seeds", type=int, default=5, help="split seeds 0..N-1")
    parser.add_argument("--seed-list", default=None, help="comma-separated seeds instead of 0..N-1")
    parser.add_argument("--tune", type=int, default=0, help="Optuna trials per seed (0 = defaults)")
    args = parser.parse_args()

    rows = []
    total = time.perf_counter()
    model = "LightGBM (categories kept), Platt calibration"
    model += f", {args.tune} Optuna trials per seed" if args.tune else ", default parameters"
    print(f"{args.file.name}: id {args.id}, label {args.label} · {model}")
    print(f"{'seed':>4} {'train/test':>10} {'pos':>7} " + " ".join(f"{c:>14}" for c in COLUMNS))
    split = ""
    seeds = [int(v) for v in args.seed_list.split(",")] if args.seed_list else list(range(args.seeds))
    for seed in seeds:
        start = time.perf_counter()
        r = train_table(args.file, args.id, args.label, seed=seed, trials=args.tune, positive=args.positive,
                        note=lambda _m: None)
        r.seconds = time.perf_counter() - start
        split = r.split.replace(f"seed {seed}", f"one split per seed {seeds}")
        values = [getattr(r, c) for c in COLUMNS]
        rows.append(values)
        print(
            f"{seed:>4} {r.n_train:>5}/{r.n_test:<4} {r.pos_train:>3}/{r.pos_test:<3} "
            + " ".join(f"{v:>14.4f}" for v in values),
            flush=True,
        )
    arr = np.array(rows)
    print(f"{'mean':>4} {'':>10} {'':>7} " + " ".join(f"{v:>14.4f}" for v in arr.mean(axis=0)))
    print(f"{'sd':>4} {'':>10} {'':>7} " + " ".join(f"{v:>14.4f}" for v in arr.std(axis=0, ddof=1)))
    auc, ap = arr[:, COLUMNS.index("test_auc")], arr[:, COLUMNS.index("test_ap")]
    b_auc, b_ap = arr[:, COLUMNS.index("baseline_auc")], arr[:, COLUMNS.index("baseline_ap")]
    print(f"split: {split}")
    print(
        f"held-out over {len(rows)} seeds: AUC {auc.mean():.3f} ± {auc.std(ddof=1):.3f} "
        f"(min {auc.min():.3f}, max {auc.max():.3f}) · AP {ap.mean():.3f} ± {ap.std(ddof=1):.3f} "
        f"(min {ap.min():.3f}, max {ap.max():.3f}) · {time.perf_counter() - total:.0f} s in all"
    )
    print(f"baseline (HistGradientBoosting, defaults, same splits): AUC {b_auc.mean():.3f} ± {b_auc.std(ddof=1):.3f}"
          f" · AP {b_ap.mean():.3f} ± {b_ap.std(ddof=1):.3f}; feijian minus baseline: AUC "
          f"{(auc - b_auc).mean():+.3f}, AP {(ap - b_ap).mean():+.3f} (paired mean)")
    if args.file == DEFAULT_FILE:
        print("published best single-split figures: AUC 0.972 / AP 0.837")


if __name__ == "__main__":
    main()
