"""The evaluation report: every backtest round, the model against each baseline, and (with truth) the oracle.

Per held-out round: auc, average_precision, precision_at_k and recovered_at_k (yuan, on the round's
inspections, k = the top third of them), and, when the simulator's truth is given, the true amount
taken in each ranking's top k of all eligible candidates at the round's capacity and its share of
the oracle's (`oracle_share`). Pooled: calibration (Brier, reliability curve), the same metrics on
the randomly selected inspections alone (the only unbiased slice), and predicted against actual
recovery per round.

The truth is read here and nowhere else in training.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from dateutil.relativedelta import relativedelta

from feijian.errors import InputError
from feijian.jsonsafe import jsonable
from training import metrics
from training.backtest import RANKERS, Fold, labelled_metrics

RECENT_DAYS = 180


def truth_amounts(truth_dir: Path, as_of: date, months: int = 12, level: str = "facility") -> pd.Series:
    """True amount taken per facility (or per billing physician) in [as_of - months, as_of), all patterns."""
    name, key = {"facility": ("facility_month.parquet", "fixmedins_code"),
                 "physician": ("physician_month.parquet", "dr_code")}[level]  # fmt: skip
    path = Path(truth_dir) / name
    if not path.is_file():
        raise InputError(f"--truth {truth_dir}: no {name} (give the simulator's DIR/truth)")
    fm = pd.read_parquet(path, columns=[key, "month", "amount_taken"])
    start = (as_of - relativedelta(months=months)).strftime("%Y-%m")
    end = (as_of - timedelta(days=1)).strftime("%Y-%m")
    sel = fm[(fm["month"] >= start) & (fm["month"] <= end)]
    return sel.groupby(key)["amount_taken"].sum()


def eligible(fold: Fold, inspections: pd.DataFrame, days: int = RECENT_DAYS) -> pd.Series:
    """Candidates a planner could pick: not inspected in the `days` before the round (the round's own picks stay)."""
    lo = fold.as_of - timedelta(days=days)
    recent = inspections[(inspections["insp_date"] >= lo) & (inspections["insp_date"] < fold.as_of)]
    return ~fold.candidates["fixmedins_code"].isin(recent["fixmedins_code"]) | fold.candidates["inspected"]


def truth_metrics(fold: Fold, truth: pd.Series, inspections: pd.DataFrame) -> dict[str, dict[str, float]]:
    """True amount in each ranking's top k (k = capacity) among eligible candidates, and its oracle share."""
    cand = fold.candidates[eligible(fold, inspections)].reset_index(drop=True)
    amount = cand["fixmedins_code"].map(truth).fillna(0.0).to_numpy(dtype=float)
    k = fold.k
    best = metrics.recovered_at_k(amount, amount, k)
    out: dict[str, dict[str, float]] = {}
    for name in RANKERS:
        if name == "random":
            got = float(amount.sum() * min(k, len(amount)) / len(amount))
        else:
            got = metrics.recovered_at_k(amount, cand[name].to_numpy(dtype=float), k)
        out[name] = {"true_amount_at_k": got, "oracle_share": got / best if best > 0 else float("nan")}
    out["oracle"] = {"true_amount_at_k": best, "oracle_share": 1.0 if best > 0 else float("nan")}
    return out


def _clean(value: object) -> object:
    """JSON-safe and rounded to 6 digits for reading."""
    return jsonable(value, digits=6)


def pooled(folds: list[Fold], selection: str | None = None, seed: int = 0) -> dict[str, dict[str, float]]:
    """The same labelled metrics over every held-out round's inspections together (optionally one selection)."""
    if not folds:  # no round had enough findings before it to be scored: nothing to pool
        return {}
    lab = pd.concat([f.labelled.assign(_k=f.k_labelled) for f in folds], ignore_index=True)
    if selection is not None:
        lab = lab[lab["selection"] == selection].reset_index(drop=True)
    if lab.empty:
        return {}
    fake = Fold("pooled", folds[-1].as_of, len(lab), 0, 0, pd.DataFrame(), lab)
    return labelled_metrics(fake, seed)


def calibration(folds: list[Fold]) -> dict[str, object]:
    if not folds:
        return {}
    lab = pd.concat([f.labelled for f in folds], ignore_index=True)
    y, p = lab["serious"].to_numpy(dtype=float), lab["p_serious"].to_numpy(dtype=float)
    return {
        "brier": metrics.brier(y, p),
        "base_rate_brier": metrics.brier(y, np.full_like(p, y.mean())),
        "reliability": [
            {"mean_predicted": a, "observed": b, "n": n} for a, b, n in metrics.reliability_curve(y, p, bins=5)
        ],
    }


def _choice(choice: dict[str, Any] | None) -> dict[str, Any]:
    """The calibration method training chose, what it was judged on, and every method's scores."""
    if not choice:
        return {}
    return {"method": choice["method"], "judged_on": choice["judged_on"], "methods": choice["methods"]}


def predicted_vs_actual(folds: list[Fold]) -> list[dict[str, float | str]]:
    """After each round: the model's expected recovery for what was inspected, against what was recovered."""
    return [
        {
            "round": f.batch,
            "predicted_recovery": float(f.labelled["model"].sum()),
            "actual_recovery": float(f.labelled["amount_recovered"].sum()),
            "predicted_serious": float(f.labelled["p_serious"].sum()),
            "actual_serious": int(f.labelled["serious"].sum()),
        }
        for f in folds
    ]


def evaluation_report(
    folds: list[Fold],
    model_version: str,
    inspections: pd.DataFrame,
    truth_dir: Path | None = None,
    window_months: int = 12,
    seed: int = 0,
    tuned_rounds: set[str] | None = None,
    calibration_choice: dict[str, Any] | None = None,
) -> dict[str, object]:
    """The evaluation.json payload (fields fixed by DESIGN.md)."""
    rounds = []
    for f in folds:
        lm = labelled_metrics(f, seed)
        tm = truth_metrics(f, truth_amounts(truth_dir, f.as_of, window_months), inspections) if truth_dir else {}
        entry: dict[str, object] = {
            "round": f.batch,
            "as_of": f.as_of.isoformat(),
            "k": f.k,
            "k_labelled": f.k_labelled,
            "n_candidates": len(f.candidates),
            "n_labelled": len(f.labelled),
            "n_serious": int(f.labelled["serious"].sum()),
            "n_train": f.n_train,
            "used_for_tuning": f.batch in (tuned_rounds or set()),
        }
        for name in RANKERS:
            block = {**lm[name], **tm.get(name, {})}
            if name == "model":
                entry["model"] = block
            else:
                entry.setdefault("baselines", {})[name] = block  # type: ignore[union-attr]
        if tm:
            entry["baselines"]["oracle"] = tm["oracle"]  # type: ignore[index]
        rounds.append(entry)
    report = {
        "model_version": model_version,
        "truth": str(truth_dir) if truth_dir else None,
        "definitions": {
            "k": "the round's capacity (targets inspected); truth metrics take each ranking's top k",
            "k_labelled": "top third of the round's inspected targets, for precision_at_k and recovered_at_k",
            "recovered_at_k": "yuan recovered by the inspections in the ranking's top k_labelled",
            "oracle_share": "true amount taken in the ranking's top k over the oracle's (truth only)",
            "eligible": f"candidates not inspected in the {RECENT_DAYS} days before the round",
            "used_for_tuning": "the round's backtest fold was scored while tuning: its figures are optimistic; "
            "the latest round never is",
        },
        "rounds": rounds,
        "pooled": pooled(folds, seed=seed),
        "random_slice": pooled(folds, selection="random", seed=seed),
        "calibration": {**calibration(folds), **_choice(calibration_choice)},
        "recovery_interval": (calibration_choice or {}).get("recovery") or {},
        "predicted_vs_actual": predicted_vs_actual(folds),
    }
    return _clean(report)  # type: ignore[return-value]
