"""How physicians are ranked for a round, and how well that ranking does against the truth.

A physician's own label is sparse: points recorded at an inspection (记分), a handful per round at
demo scale (6–18 positive physicians in each backtest fold's training rows). On the demo's held-out
rounds the physician model trained on them took about a quarter of the oracle's fraudulent amount in
its top 25–100, well below ranking by the physician's own rule-hit amount (0.61–0.77). What ranks
physicians well is what the facility model already knows: a physician's billing is at risk in
proportion to the chance that their facility's inspection confirms a serious finding. So physicians
are ranked by

    dr_exposure = P(serious finding at the physician's facility) × the physician's billed amount

("预计涉险金额", yuan), and the physician model's calibrated probability is shown beside it for what
it is: P(points recorded at the physician's next inspection).

`physician_truth_metrics` measures the rankings on a backtest fold with the simulator's truth
(fraudulent amount by billing physician in the window), at k = 25, 50 and 100.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from training import metrics

EXPOSURE = "dr_exposure"
EXPOSURE_ZH = "预计涉险金额"
PHYSICIAN_RANKING_ZH = "按预计涉险金额排序（所在机构严重问题概率 × 医师开单金额）"
P_RISK_MEANING_ZH = "风险概率：该医师在下次检查中被记分的概率（由历次检查的医师记分训练并校准）。"
PHYSICIAN_KS = (25, 50, 100)


def physician_exposure(physicians: pd.DataFrame, facility_p: pd.Series) -> np.ndarray:
    """P(serious) of each physician's facility (`facility_p`: code → probability) × the physician's dr_amount."""
    p = physicians["fixmedins_code"].astype(str).map(facility_p).fillna(0.0).to_numpy(dtype=float)
    return p * physicians["dr_amount"].fillna(0.0).to_numpy(dtype=float)


def physician_truth_metrics(
    physicians: pd.DataFrame, rankings: dict[str, np.ndarray], truth: pd.Series, ks: tuple[int, ...] = PHYSICIAN_KS
) -> dict[str, dict[str, float]]:
    """{ranking: {"oracle_share_at_25": …}} plus the random ranking's expectation and the oracle's amount."""
    amount = physicians["dr_code"].astype(str).map(truth).fillna(0.0).to_numpy(dtype=float)
    out: dict[str, dict[str, float]] = {name: {} for name in [*rankings, "random"]}
    out["oracle"] = {}
    for k in ks:
        best = metrics.recovered_at_k(amount, amount, k)
        for name, score in rankings.items():
            got = metrics.recovered_at_k(amount, score, k)
            out[name][f"oracle_share_at_{k}"] = got / best if best > 0 else float("nan")
        random_amount = amount.sum() * min(k, len(amount)) / max(len(amount), 1)
        out["random"][f"oracle_share_at_{k}"] = random_amount / best if best > 0 else float("nan")
        out["oracle"][f"true_amount_at_{k}"] = best
    return out


def physician_backtest(rounds: list, folds: list, truth_dir: Path, months: int, seed: int) -> list[dict]:
    """Per backtest fold with the truth: the physician rankings' shares of the oracle at k = 25, 50, 100.

    - exposure: the fold's facility risk (a model of the rounds before) × the physician's billing;
    - model: a physician model trained on the points recorded before the round (training.model);
    - rule_hits: the physician's own rule-hit amount; random: its expectation.
    """
    from training.dataset import known_before, physician_columns, stack
    from training.evaluate import truth_amounts
    from training.model import RiskModel, TooFewLabelsError

    by_batch = {r.batch: i for i, r in enumerate(rounds)}
    cols = physician_columns()
    out = []
    for f in folds:
        i = by_batch.get(f.batch)
        if i is None:
            continue
        docs = rounds[i].physicians
        facility_p = pd.Series(f.candidates["p_serious"].to_numpy(), index=f.candidates["fixmedins_code"].astype(str))
        rankings = {
            "exposure": physician_exposure(docs, facility_p),
            "rule_hits": docs["dr_rule_hit_amount"].fillna(0.0).to_numpy(dtype=float),
        }
        train = known_before(stack(rounds[:i], physician=True), rounds[i].as_of)
        try:
            model = RiskModel(seed=seed).fit(train[cols].astype(float), train["serious"].to_numpy(dtype=float))
            rankings["model"] = model.predict_proba(docs[cols].astype(float))
        except (TooFewLabelsError, KeyError):
            pass
        truth = truth_amounts(truth_dir, rounds[i].as_of, months, level="physician")
        out.append({
            "round": f.batch,
            "n_physicians": len(docs),
            "n_fraudulent": int(docs["dr_code"].astype(str).map(truth).fillna(0).gt(0).sum()),
            "n_train_positive": int(train["serious"].sum()) if len(train) else 0,
            **physician_truth_metrics(docs, rankings, truth),
        })  # fmt: skip
    return out
