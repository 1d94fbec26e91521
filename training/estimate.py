"""How much is paid improperly across all facilities, inspected or not? The random slice answers.

Only inspections drawn at random are a sample of the population; targeted ones over-represent the
worst. The estimate is a ratio estimator: Σ recovered / Σ fund payout checked over the random
inspections, times the fund payout of every facility in the latest window, with a bootstrap
interval over inspections. It counts what inspections find, so it is a floor on what was taken
(inspections miss some of it); with the simulator's truth, `evaluate` prints the true figure beside it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

N_BOOT = 2000


def improper_payment(labels: pd.DataFrame, total_fund_pay: float, seed: int = 0) -> dict[str, float | int | None]:
    """Ratio estimate and 95 % bootstrap interval of the yuan paid improperly in the window."""
    rnd = labels[(labels["selection"] == "random") & (labels["fund_pay_checked"] > 0)]
    n = len(rnd)
    if n < 5:
        return {"n_random": n, "rate": None, "estimate": None, "low": None, "high": None}
    rec = rnd["amount_recovered"].to_numpy(float)
    fund = rnd["fund_pay_checked"].to_numpy(float)
    rate = rec.sum() / fund.sum()
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(N_BOOT, n))
    boot = rec[idx].sum(axis=1) / fund[idx].sum(axis=1)
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return {
        "n_random": n,
        "rate": float(rate),
        "rate_low": float(lo),
        "rate_high": float(hi),
        "fund_pay": float(total_fund_pay),
        "estimate": float(rate * total_fund_pay),
        "low": float(lo * total_fund_pay),
        "high": float(hi * total_fund_pay),
    }
