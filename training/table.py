"""The prepared-table path: one row per target with an id, a label and feature columns.

For data scientists who already have a table (their own extract, or a public set such as the Kaggle
provider-fraud table) and want to know how well a risk model ranks it before wiring up the full
feature pipeline. The held-out part is split off by id (or by time) before anything is fitted, and
every figure reported on it comes from models that never saw those rows:

- features: numbers, yes/no, and categories kept as LightGBM categorical features, learnt on the
  training part (training.table_encode); a column that alone ranks the training labels is dropped;
- cross-validation inside the training part: stratified folds, or with a time column time-ordered
  folds (each fold validated on rows later than those it trained on), never a random CV for a time
  split; Optuna tunes on the same folds (`trials`, `seed`, `timeout`);
- held-out AUC, average precision, precision@k, Brier and a reliability table for feijian's model,
  and the same split scored by a default scikit-learn HistGradientBoosting baseline, so the report
  says how much the model adds.

training.table_run logs it to MLflow, registers the model and keeps the files.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, train_test_split

from feijian.errors import InputError, MissingColumnError
from training import metrics
from training.model import RiskModel, TooFewLabelsError
from training.table_encode import FALSE_WORDS, TRUE_WORDS, TableEncoder
from training.tune import tune_xy

# A single feature that ranks the training labels (almost) perfectly is the label in another form.
LEAK_AUC = 0.995
N_FOLDS = 5
RELIABILITY_BINS = 10

Folds = list[tuple[np.ndarray, np.ndarray]]


@dataclass
class TableResult:
    """What `train_table` found: the split, cross-validation on train, held-out figures, the model."""

    path: str
    n_train: int
    n_test: int
    pos_train: int
    pos_test: int
    split: str
    cv: str  # how the training part was cross-validated
    cv_auc_mean: float
    cv_auc_sd: float
    cv_ap_mean: float
    cv_ap_sd: float
    test_auc: float
    test_ap: float
    k: int
    precision_at_k: float
    brier: float
    baseline_auc: float
    baseline_ap: float
    features: list[str]
    categorical: list[str]
    seed: int = 0
    trials: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    cv_folds: list[dict[str, float]] = field(default_factory=list)  # per fold: n, positives, auc, ap
    reliability: list[dict[str, float]] = field(default_factory=list)  # held-out: mean predicted vs observed
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    model: RiskModel | None = field(default=None, repr=False)
    encoder: TableEncoder | None = field(default=None, repr=False)
    held_out: pd.DataFrame | None = field(default=None, repr=False)  # id, label, p, raw score, baseline p

    def to_dict(self) -> dict[str, Any]:
        """Everything but the model and the held-out rows, JSON-ready."""
        out = asdict(self)
        for k in ("model", "encoder", "held_out"):
            out.pop(k)
        return out


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, with an error that names the file when it cannot."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt", ".gz"):
            return pd.read_csv(path, encoding="utf-8-sig")  # a BOM is not part of the first column's name
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as {suffix[1:]}: {exc}") from None
    raise InputError(f"{path}: expected a .csv or .parquet file, got '{suffix}'")


def map_label(values: pd.Series, positive: str | None = None) -> pd.Series:
    """Label → 1.0 / 0.0, NaN where missing (unlabelled, never negative)."""
    present = values.notna()
    text = values.astype(str).str.strip().str.lower()
    if positive is not None:
        want = str(positive).strip().lower()
        hit = text == want
        number = pd.to_numeric(pd.Series([want]), errors="coerce").iloc[0]
        if pd.notna(number):  # `--positive 1` on a label read as 1.0
            hit |= pd.to_numeric(values, errors="coerce") == number
        if not hit[present].any():
            raise InputError(f"no label equals --positive {positive!r}; values: {sorted(set(text[present]))[:8]}")
        return hit.astype(float).where(present)
    seen = set(text[present].unique())
    unknown = seen - TRUE_WORDS - FALSE_WORDS
    if unknown:
        raise InputError(
            f"label values {sorted(unknown)[:5]} are not Yes/No, 1/0 or True/False; "
            "say which value is positive with --positive VALUE"
        )
    return text.isin(TRUE_WORDS).astype(float).where(present)


def drop_label_leaks(X: pd.DataFrame, y: np.ndarray, note: Callable[[str], None]) -> pd.DataFrame:
    """Drop any numeric column that alone separates the (training) labels almost perfectly: the label in
    disguise. (A category is not checked alone: a rare level would look perfect by chance.)"""
    leaks = []
    for name in X.columns:
        if isinstance(X[name].dtype, pd.CategoricalDtype):
            continue
        a = metrics.auc(y, X[name].fillna(X[name].min() - 1).to_numpy())
        if not np.isnan(a) and max(a, 1 - a) >= LEAK_AUC:
            leaks.append(name)
            note(f"dropped column '{name}': alone it ranks the training labels with AUC {max(a, 1 - a):.3f}")
    return X.drop(columns=leaks)


def split_ids(
    ids: pd.Series, y: np.ndarray, times: pd.Series | None, test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """Train/test row positions and a sentence saying how they were split."""
    n = len(ids)
    if times is None:
        tr, te = train_test_split(np.arange(n), test_size=test_size, stratify=y, random_state=seed)
        how = f"{1 - test_size:.0%}/{test_size:.0%} split stratified by label, by id, seed {seed}"
        return np.sort(tr), np.sort(te), how
    order = np.argsort(times.to_numpy(), kind="stable")
    cut_value = times.iloc[order[int(np.floor(n * (1 - test_size)))]]
    te_mask = (times >= cut_value).to_numpy()
    if te_mask.all() or not te_mask.any():
        raise InputError(f"time column: every row falls on one side of {cut_value}; cannot split by time")
    how = f"time-ordered: test = rows with {times.name} ≥ {cut_value} (latest {te_mask.mean():.0%})"
    return np.flatnonzero(~te_mask), np.flatnonzero(te_mask), how


def cv_folds(y: np.ndarray, times: pd.Series | None, seed: int) -> tuple[Folds, str]:
    """Folds inside the training part: stratified, or by time (expanding window: each fold trains on the
    rows before a cut and is validated on the next block, so no fold sees its future)."""
    if times is None:
        folds = list(StratifiedKFold(N_FOLDS, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
        return folds, f"{N_FOLDS}-fold stratified, seed {seed}"
    order = np.argsort(times.to_numpy(), kind="stable")
    blocks = np.array_split(order, N_FOLDS + 1)
    folds = [(np.sort(np.concatenate(blocks[: i + 1])), np.sort(blocks[i + 1])) for i in range(N_FOLDS)]
    return folds, f"{N_FOLDS} time-ordered folds (each validated on the block after the rows it trains on)"


def _check_columns(frame: pd.DataFrame, path: Path, wanted: dict[str, str | None]) -> None:
    for role, col in wanted.items():
        if col is not None and col not in frame.columns:
            raise MissingColumnError(
                f"{path.name}: no {role} column '{col}'; columns are: {', '.join(map(str, frame.columns))}"
            )


def parse_times(col: pd.Series, path: Path) -> pd.Series:
    """The time column as numbers or timestamps; an InputError naming rows and values it cannot read."""
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_datetime64_any_dtype(col):
        if col.isna().any():
            rows = [int(i) + 2 for i in np.flatnonzero(col.isna().to_numpy())[:3]]
            raise InputError(f"{path.name}: time column '{col.name}' is empty on {int(col.isna().sum())} row(s), "
                             f"e.g. lines {rows}: every row needs a time to fall on one side of the split")
        return col
    parsed = pd.to_datetime(col, errors="coerce", format="mixed")
    bad = parsed.isna() & col.notna()
    if bad.any() or col.isna().any():
        rows = [int(i) + 2 for i in np.flatnonzero((bad | col.isna()).to_numpy())[:3]]  # CSV line numbers
        values = col[bad | col.isna()].head(3).tolist()
        raise InputError(f"{path.name}: time column '{col.name}' has {int((bad | col.isna()).sum())} value(s) that "
                         f"are not dates or times, e.g. lines {rows}: {values}")
    return parsed


def load_xy(
    path: Path, id_col: str, label_col: str, time_col: str | None, positive: str | None, note: Callable[[str], None]
) -> tuple[pd.Series, pd.DataFrame, np.ndarray, pd.Series | None]:
    """Read and validate the table: ids, the feature columns as read, 0/1 labels, the time column if any."""
    path = Path(path)
    frame = read_table(path)
    _check_columns(frame, path, {"id": id_col, "label": label_col, "time": time_col})
    dup = frame[id_col].duplicated(keep=False)
    if dup.any():
        examples = frame.loc[dup, id_col].unique()[:3].tolist()
        raise InputError(
            f"{path.name}: {int(dup.sum())} rows share an id in '{id_col}', e.g. {examples}; ids must be unique"
        )
    if frame[id_col].isna().any():
        raise InputError(f"{path.name}: {int(frame[id_col].isna().sum())} rows have no id in '{id_col}'")
    label = map_label(frame[label_col], positive)
    times = parse_times(frame[time_col], path) if time_col is not None else None
    if label.isna().any():
        note(f"left out {int(label.isna().sum())} rows without a label (unlabelled is not negative)")
        keep = label.notna()
        frame, label = frame[keep].reset_index(drop=True), label[keep].reset_index(drop=True)
        times = times[keep].reset_index(drop=True) if times is not None else None
    X = frame.drop(columns=[c for c in (id_col, label_col, time_col) if c])
    if X.shape[1] == 0:
        raise InputError(f"{path.name}: no feature columns besides id, label and time")
    return frame[id_col], X, label.to_numpy(), times


def _fold_figures(X: pd.DataFrame, y: np.ndarray, folds: Folds, seed: int, params: dict,
                  note: Callable[[str], None]) -> list[dict[str, float]]:
    out = []
    for i, (tr, va) in enumerate(folds):
        if y[va].min() == y[va].max():
            note(f"cross-validation fold {i + 1}: its {len(va)} validation rows hold one class only; not scored")
            continue
        try:
            p = RiskModel(params=params, seed=seed).fit(X.iloc[tr], y[tr]).predict_proba(X.iloc[va])
        except TooFewLabelsError as exc:
            note(f"cross-validation fold {i + 1}: not scored ({exc})")
            continue
        out.append({"fold": i + 1, "n": len(va), "positives": int(y[va].sum()),
                    "auc": metrics.auc(y[va], p), "ap": metrics.average_precision(y[va], p)})
    if not out:
        raise InputError("no cross-validation fold could be scored: too few positives in the training part")
    return out


def baseline_scores(X_tr: pd.DataFrame, y_tr: np.ndarray, X_te: pd.DataFrame, seed: int) -> np.ndarray:
    """A default gradient-boosting baseline (scikit-learn), categories from their dtype, same split."""
    hgb = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
    return hgb.fit(X_tr, y_tr).predict_proba(X_te)[:, 1]


def train_table(
    path: Path,
    id_col: str,
    label_col: str,
    time_col: str | None = None,
    test_size: float = 0.2,
    seed: int = 0,
    positive: str | None = None,
    params: dict | None = None,
    trials: int = 0,
    timeout: float | None = None,
    note: Callable[[str], None] = print,
) -> TableResult:
    """Split held-out rows, encode and (with `trials`) tune on the rest's folds, fit, report held-out figures
    against the baseline's on the same split."""
    start = time.perf_counter()
    notes: list[str] = []

    def say(msg: str) -> None:
        notes.append(msg)
        note(msg)

    if not 0 < test_size < 1:
        raise InputError(f"test_size must be between 0 and 1; got {test_size}")
    if trials < 0:
        raise InputError(f"--trials must be 0 or more; got {trials}")
    ids, raw, y, times = load_xy(Path(path), id_col, label_col, time_col, positive, say)
    tr, te, how = split_ids(ids, y, times, test_size, seed)
    encoder = TableEncoder().fit(raw.iloc[tr], say)
    if not encoder.features:
        raise InputError(f"{Path(path).name}: no usable feature columns remain besides id, label and time")
    X_tr = drop_label_leaks(encoder.transform(raw.iloc[tr]), y[tr], say)
    X_te = encoder.transform(raw.iloc[te])[X_tr.columns]
    for col, n in encoder.unseen(raw.iloc[te]).items():
        say(f"column '{col}': {n} held-out value(s) never seen in training, scored as missing")
    folds, cv_how = cv_folds(y[tr], times.iloc[tr].reset_index(drop=True) if times is not None else None, seed)
    chosen = dict(params or {})
    if trials:
        chosen, best, default = tune_xy(X_tr, y[tr], n_trials=trials, seed=seed, folds=folds, timeout=timeout)
        say(f"Optuna: {trials} trials on the training folds, CV average precision {best:.3f} "
            f"(defaults {default:.3f})")
    fold_rows = _fold_figures(X_tr, y[tr], folds, seed, chosen, say)
    model = RiskModel(params=chosen, seed=seed).fit(X_tr, y[tr])
    p, raw_te = model.predict_proba(X_te), model.raw_score(X_te)
    base = baseline_scores(X_tr, y[tr], X_te, seed)
    k = max(1, int(y[te].sum()))
    aucs, aps = [f["auc"] for f in fold_rows], [f["ap"] for f in fold_rows]
    return TableResult(
        path=str(path), n_train=len(tr), n_test=len(te), pos_train=int(y[tr].sum()), pos_test=int(y[te].sum()),
        split=how, cv=cv_how, cv_auc_mean=float(np.mean(aucs)), cv_auc_sd=float(np.std(aucs)),
        cv_ap_mean=float(np.mean(aps)), cv_ap_sd=float(np.std(aps)), test_auc=metrics.auc(y[te], p),
        test_ap=metrics.average_precision(y[te], p), k=k, precision_at_k=metrics.precision_at_k(y[te], p, k),
        brier=metrics.brier(y[te], p), baseline_auc=metrics.auc(y[te], base),
        baseline_ap=metrics.average_precision(y[te], base), features=list(X_tr.columns),
        categorical=[c for c in encoder.categorical if c in X_tr.columns], seed=seed, trials=trials,
        params=chosen, cv_folds=fold_rows,
        reliability=[{"mean_predicted": a, "observed": b, "n": n}
                     for a, b, n in metrics.reliability_curve(y[te], p, RELIABILITY_BINS)],
        notes=notes, seconds=time.perf_counter() - start, model=model, encoder=encoder,
        held_out=pd.DataFrame({"id": ids.iloc[te].to_numpy(), "label": y[te], "p": p, "raw_score": raw_te,
                               "baseline_p": base}),
    )  # fmt: skip


def format_table_result(result: TableResult) -> str:
    """A short terminal summary."""
    r = result
    cats = f" ({len(r.categorical)} categorical)" if r.categorical else ""
    lines = [
        f"Table: {r.path}",
        f"Split: {r.split}",
        f"  train {r.n_train} rows ({r.pos_train} positive) · test {r.n_test} rows ({r.pos_test} positive)",
        f"Cross-validation on train ({r.cv}): AUC {r.cv_auc_mean:.3f} ± {r.cv_auc_sd:.3f} · "
        f"AP {r.cv_ap_mean:.3f} ± {r.cv_ap_sd:.3f}",
        f"Held-out: AUC {r.test_auc:.3f} · AP {r.test_ap:.3f} · precision@{r.k} {r.precision_at_k:.3f} · "
        f"Brier {r.brier:.4f}",
        f"Baseline (scikit-learn HistGradientBoosting, defaults, same split): AUC {r.baseline_auc:.3f} · "
        f"AP {r.baseline_ap:.3f}",
        f"Features: {len(r.features)}{cats} · seed {r.seed} · {r.trials} Optuna trials · {r.seconds:.1f} s",
    ]
    lines += [f"Note: {n}" for n in r.notes]
    return "\n".join(lines)
