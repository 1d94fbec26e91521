"""Optuna on the time-ordered backtest, maximising what planners live by: recovery in the top k.

Each trial fits the backtest folds oldest first and reports the running mean of the model's
recovered share at k after each fold, so the median pruner can stop a poor trial early. The study
lives in a SQLite database under mlruns/ (`optuna.db`), keyed by the data's fingerprint, the label
definition and the weighting, so an interrupted search resumes and a search on other data starts
fresh. The defaults are always trial 0.

Four folds of ~30 findings each are easy to overfit: on the demo province the best of 15 trials
beat the defaults on the folds it was chosen on (0.94 against 0.78) and lost to them on the truth.
So the search sees every tuning fold but the latest, and the tuned parameters replace the defaults
only when `accept_tuned` agrees: a clear mean gain, a win on most of the searched folds, and a win
on the latest fold, which the search never scored (an inner hold-out).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from training.backtest import Fold, labelled_metrics, run_backtest
from training.dataset import Round
from training.model import DEFAULT_PARAMS
from training.target_model import Weighting
from training.tune import suggest

STUDY_DB = "optuna.db"
# Bumped when the objective or the folds a study scores change: an old study is then not resumed.
SEARCH_VERSION = 2
# Shares closer than this are a tie (the same top k summed in another order differs in the last bits).
TIE = 1e-9


@dataclass(frozen=True)
class Tuning:
    """What a search found: the best trial and the defaults, each with its share on every searched fold."""

    params: dict[str, Any]
    value: float
    default_value: float
    shares: tuple[float, ...]
    default_shares: tuple[float, ...]
    trials: int  # trials run in this call


def study_name(fingerprint: str, label_key: str, weighting: str, n_rounds: int = 0) -> str:
    key = f"{fingerprint}|{label_key}|{weighting}|{n_rounds}|v{SEARCH_VERSION}"
    return f"facility-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def accept_tuned(
    shares: tuple[float, ...],
    default_shares: tuple[float, ...],
    holdout: tuple[float, float],
    min_gain: float,
) -> tuple[bool, str]:
    """Whether tuned parameters replace the defaults, and why in one line.

    All three must hold: mean share over the searched folds at least `min_gain` above the defaults';
    strictly better on a majority of those folds (a mean carried by one lucky fold is not enough);
    strictly better on the inner hold-out (`holdout` = (tuned, defaults) on the fold the search never
    scored). Ties go to the defaults: they need no evidence.
    """
    if not shares or len(shares) != len(default_shares):
        return False, "defaults kept: no comparable default trial on the same folds"
    gain = float(np.mean(shares) - np.mean(default_shares))
    wins = sum(t > d + TIE for t, d in zip(shares, default_shares, strict=True))
    checks = {
        f"mean gain {gain:+.3f} ≥ {min_gain}": gain >= min_gain,
        f"better on {wins} of {len(shares)} searched folds": 2 * wins > len(shares),
        f"inner hold-out {holdout[0]:.3f} vs defaults {holdout[1]:.3f}": holdout[0] > holdout[1] + TIE,
    }
    failed = [k for k, ok in checks.items() if not ok]
    if failed:
        return False, "defaults kept: " + "; ".join(failed)
    return True, "tuned parameters accepted: " + "; ".join(checks)


def _share(fold: Fold) -> float:
    v = labelled_metrics(fold)["model"]["recovered_share_at_k"]
    return 0.0 if np.isnan(v) else float(v)


def default_params() -> dict[str, Any]:
    """The defaults of the tuned parameters only (trial 0 of every study)."""
    return {k: DEFAULT_PARAMS[k] for k in suggest(optuna.trial.FixedTrial(DEFAULT_PARAMS))}


def holdout_shares(
    rounds: list[Round], columns: list[str], params: dict[str, Any], seed: int = 0, weighting: Weighting = "none"
) -> tuple[float, float]:
    """(tuned, defaults) share on the last round's fold, each fitted on the rounds before it: the inner hold-out."""

    def share(p: dict[str, Any]) -> float:
        folds = run_backtest(rounds, columns, params=p, seed=seed, weighting=weighting, folds=[len(rounds) - 1])
        return _share(folds[0]) if folds else float("nan")

    return share(params), share(default_params())


def tune_backtest(
    rounds: list[Round],
    columns: list[str],
    storage_dir: Path,
    name: str,
    n_trials: int = 30,
    timeout: float | None = 240.0,
    seed: int = 0,
    weighting: Weighting = "none",
    progress: Callable[[int, float], None] | None = None,
    min_train_rounds: int = 3,
) -> Tuning:
    """The best trial and the defaults (always trial 0) on the backtest folds of `rounds`."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage_dir.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        study_name=name,
        storage=f"sqlite:///{storage_dir / STUDY_DB}",
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
        load_if_exists=True,
    )
    defaults = default_params()
    if not study.trials:
        study.enqueue_trial(defaults)

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial)
        shares: list[float] = []

        def on_fold(i: int, fold: Fold) -> None:
            shares.append(_share(fold))
            trial.set_user_attr("shares", list(shares))
            trial.report(float(np.mean(shares)), i)
            if trial.should_prune():
                raise optuna.TrialPruned()

        run_backtest(
            rounds,
            columns,
            params=params,
            seed=seed,
            weighting=weighting,
            min_train_rounds=min_train_rounds,
            on_fold=on_fold,
        )
        return float(np.mean(shares))

    done_before = len([t for t in study.trials if t.state.is_finished()])
    remaining = max(0, n_trials - len([t for t in study.trials if t.state.is_finished()]))
    start = time.perf_counter()
    if remaining:
        study.optimize(
            objective,
            n_trials=remaining,
            timeout=timeout,
            callbacks=[lambda s, t: progress(len(s.trials), time.perf_counter() - start)] if progress else None,
        )
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    default = complete[0] if complete and complete[0].params == defaults else None
    best = study.best_trial
    return Tuning(
        params=dict(best.params),
        value=float(best.value or 0.0),
        default_value=float(default.value or 0.0) if default else float("nan"),
        shares=tuple(best.user_attrs.get("shares", ())),
        default_shares=tuple(default.user_attrs.get("shares", ())) if default else (),
        trials=len([t for t in study.trials if t.state.is_finished()]) - done_before,
    )
