"""Time-ordered backtest: train on the rounds before, rank the next round, compare with baselines.

Fold r trains on every labelled row known before round r's planning date (`dataset.known_before`,
checked by `dataset.check_fold`) and scores every candidate of round r. Each fold ranks the same
candidates five ways: the model (expected recovery), the rule base (rule-hit amount), the
unsupervised anomaly score, the historical selection (what the bureau actually chose), and random.

Labelled metrics are measured on the round's inspected targets: AUC and average precision of the
probability, and precision / recovered amount in the top third of them by the ranking
(`k_labelled`), since all of them were inspected and "top k at capacity" of an all-inspected list
is the whole list. With the simulator's truth, `evaluate` adds what only the truth can tell:
the true amount taken in each ranking's top k of all candidates, at the round's capacity.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from training import metrics
from training.anomaly import ANOMALY_COLUMN
from training.dataset import Round, check_fold, known_before, stack
from training.model import TooFewLabelsError
from training.target_model import MAX_WEIGHT, TargetModel, Weighting, propensity_weights

RANKERS = ("model", "rule_hits", "anomaly", "historical", "random")
RANKER_LABELS = {
    "model": "模型（预期追回金额）",
    "rule_hits": "规则命中金额",
    "anomaly": "无监督异常度",
    "historical": "历史选取方式",
    "random": "随机",
    "oracle": "真值（上限）",
}
RANDOM_DRAWS = 200
MIN_TRAIN_ROUNDS = 3


@dataclass
class Fold:
    batch: str
    as_of: date
    k: int  # the round's capacity: how many targets it inspected
    n_train: int
    pos_train: int
    candidates: pd.DataFrame  # every candidate: fixmedins_code, scores per ranker, inspected
    labelled: pd.DataFrame  # the round's inspections: labels, selection, scores per ranker
    # the fold risk model's out-of-fold raw scores, labels and weights: what any calibrator is fitted on
    oof: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None

    @property
    def k_labelled(self) -> int:
        return max(1, math.ceil(len(self.labelled) / 3))


def ranker_scores(frame: pd.DataFrame, scored: pd.DataFrame, inspected: pd.Series, raw: np.ndarray) -> pd.DataFrame:
    """One column per ranker (higher = inspect first); 'random' is handled by expectation, not a draw.

    The model's parts ride along (raw margin, amount if serious) so that a fold can be recalibrated
    without its features (training.calibration_check)."""
    return pd.DataFrame(
        {
            "raw_serious": raw,
            "amount_if_serious": scored["amount_if_serious"].to_numpy(),
            "p_serious": scored["p_serious"].to_numpy(),
            "model": scored["expected_recovery"].to_numpy(),
            "rule_hits": frame["rule_hit_amount"].fillna(0).to_numpy(dtype=float),
            "anomaly": frame[ANOMALY_COLUMN].to_numpy(dtype=float),
            "historical": inspected.to_numpy(dtype=float),
        },
        index=frame.index,
    )


def fit_fold(
    train: pd.DataFrame,
    train_rounds: list[Round],
    columns: list[str],
    params: dict | None,
    seed: int,
    weighting: Weighting,
) -> TargetModel:
    weights = None
    if weighting == "ipw":
        weights = ipw_for(train, train_rounds, columns, seed)
    return TargetModel(columns, params=params, seed=seed).fit(train, sample_weight=weights)


def ipw_for(train: pd.DataFrame, train_rounds: list[Round], columns: list[str], seed: int) -> np.ndarray:
    """Inverse-propensity weight of each training row, from its own round.

    A round feijian planned and saved knows the probability with which each pick was drawn
    (`pick_probability`: 1 for a model pick, the exploration draw's otherwise): its rows weigh 1/p.
    For the historical rounds (and outside inspections) the propensity is estimated from the round's
    candidates (`propensity_weights`). Both are clipped and scaled to mean 1 over the round's rows."""
    w = pd.Series(1.0, index=train.index)
    for r in train_rounds:
        rows = train["batch"] == r.batch
        stored = train.loc[rows, "pick_probability"] if "pick_probability" in train else pd.Series(dtype=float)
        if len(stored) and stored.notna().all():
            raw = np.clip(1.0 / np.maximum(stored.to_numpy(dtype=float), 1e-6), 1.0, MAX_WEIGHT)
            w[rows] = raw / raw.mean()
            continue
        inspected = r.candidates["fixmedins_code"].isin(r.labelled["fixmedins_code"])
        pw = pd.Series(propensity_weights(r.candidates, inspected, columns, seed), index=r.candidates.index)
        by_code = dict(zip(r.candidates["fixmedins_code"], pw, strict=True))
        w[rows] = train.loc[rows, "fixmedins_code"].map(by_code).fillna(1.0)
    return w.to_numpy()


def run_backtest(
    rounds: list[Round],
    columns: list[str],
    params: dict | None = None,
    seed: int = 0,
    weighting: Weighting = "none",
    min_train_rounds: int = MIN_TRAIN_ROUNDS,
    folds: list[int] | None = None,
    on_fold: Callable[[int, Fold], None] | None = None,
) -> list[Fold]:
    """Folds for rounds[min_train_rounds:] (or the given round indices), oldest first."""
    out = []
    todo = folds if folds is not None else list(range(min_train_rounds, len(rounds)))
    for i in todo:
        test = rounds[i]
        train = known_before(stack(rounds[:i]), test.as_of)
        check_fold(train, test)
        try:
            model = fit_fold(train, rounds[:i], columns, params, seed, weighting)
        except TooFewLabelsError:
            continue  # too few findings before this round to train on: the fold is skipped, not faked
        cand = test.candidates
        inspected = cand["fixmedins_code"].isin(test.labelled["fixmedins_code"])
        scores = ranker_scores(cand, model.predict_frame(cand), inspected, model.raw_score(cand))
        candidates = pd.concat(
            [cand[["fixmedins_code", "admdvs", "fixmedins_type", "hosp_lv", "fund_pay"]], scores], axis=1
        ).assign(inspected=inspected.to_numpy())
        lab = test.labelled[["insp_id", "fixmedins_code", "selection", "serious", "amount_recovered"]]
        labelled = lab.merge(candidates.drop(columns=["inspected"]), on="fixmedins_code", how="left")
        fold = Fold(
            batch=test.batch,
            as_of=test.as_of,
            k=len(test.labelled),
            n_train=len(train),
            pos_train=int(train["serious"].sum()),
            candidates=candidates,
            labelled=labelled,
            oof=(model.risk_.oof_raw_, model.risk_.oof_y_, model.risk_.oof_w_),
        )
        out.append(fold)
        if on_fold is not None:
            on_fold(len(out) - 1, fold)
    return out


def _random_expectation(y: np.ndarray, amount: np.ndarray, k: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    draws = [rng.permutation(len(y)) for _ in range(RANDOM_DRAWS)]
    return {
        "auc": 0.5 if 0 < y.sum() < len(y) else float("nan"),
        "average_precision": float(np.mean([metrics.average_precision(y, -d) for d in draws]))
        if y.sum() > 0
        else float("nan"),
        "precision_at_k": float(y.mean()),
        "recovered_at_k": float(amount.sum() * min(k, len(y)) / len(y)),
    }


def labelled_metrics(fold: Fold, seed: int = 0) -> dict[str, dict[str, float]]:
    """Per ranker: auc, average_precision, precision_at_k, recovered_at_k on the round's inspections."""
    lab = fold.labelled
    y = lab["serious"].to_numpy(dtype=float)
    amount = lab["amount_recovered"].to_numpy(dtype=float)
    k = fold.k_labelled
    out: dict[str, dict[str, float]] = {}
    for name in RANKERS:
        if name == "random":
            out[name] = _random_expectation(y, amount, k, seed)
            continue
        rank = lab[name].to_numpy(dtype=float)
        prob = lab["p_serious"].to_numpy(dtype=float) if name == "model" else rank
        out[name] = {
            "auc": metrics.auc(y, prob),
            "average_precision": metrics.average_precision(y, prob),
            "precision_at_k": metrics.precision_at_k(y, rank, k),
            "recovered_at_k": metrics.recovered_at_k(amount, rank, k),
        }
    best = metrics.recovered_at_k(amount, amount, k)
    for m in out.values():
        m["recovered_share_at_k"] = m["recovered_at_k"] / best if best > 0 else float("nan")
    return out


def objective(folds: list[Fold]) -> float:
    """What tuning maximises: the model's mean share of the best possible recovery in the top k."""
    shares = [labelled_metrics(f)["model"]["recovered_share_at_k"] for f in folds]
    shares = [s for s in shares if not np.isnan(s)]
    return float(np.mean(shares)) if shares else 0.0
