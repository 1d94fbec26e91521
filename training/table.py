"""The prepared-table path: one row per target with an id, a label and numeric features.

For data scientists who already have a table (their own extract, or a public set such as the Kaggle
provider-fraud table) and want to know how well a risk model ranks it before wiring up the full
feature pipeline. The held-out part is split off by id before anything is fitted, and every figure
reported on it comes from a model that never saw those ids.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from feijian.errors import InputError, MissingColumnError
from training import metrics
from training.model import RiskModel

TRUE_WORDS = {"yes", "y", "true", "t", "1", "1.0", "是"}
FALSE_WORDS = {"no", "n", "false", "f", "0", "0.0", "否"}
# A single feature that ranks the training labels (almost) perfectly is the label in another form.
LEAK_AUC = 0.995


@dataclass
class TableResult:
    """What `train_table` found: the split, cross-validation on train, held-out figures, the model."""

    path: str
    n_train: int
    n_test: int
    pos_train: int
    pos_test: int
    split: str
    cv_auc_mean: float
    cv_auc_sd: float
    cv_ap_mean: float
    cv_ap_sd: float
    test_auc: float
    test_ap: float
    k: int
    precision_at_k: float
    brier: float
    features: list[str]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    model: RiskModel | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Everything but the model, JSON-ready."""
        out = asdict(self)
        out.pop("model")
        return out


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, with an error that names the file when it cannot."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".csv", ".txt", ".gz"):
        return pd.read_csv(path)
    raise InputError(f"{path}: expected a .csv or .parquet file, got '{suffix}'")


def map_label(values: pd.Series, positive: str | None = None) -> pd.Series:
    """Label → 1.0 / 0.0, NaN where missing (unlabelled, never negative)."""
    present = values.notna()
    text = values.astype(str).str.strip().str.lower()
    if positive is not None:
        return (text == str(positive).strip().lower()).astype(float).where(present)
    seen = set(text[present].unique())
    unknown = seen - TRUE_WORDS - FALSE_WORDS
    if unknown:
        raise InputError(
            f"label values {sorted(unknown)[:5]} are not Yes/No, 1/0 or True/False; "
            "say which value is positive with positive=..."
        )
    return text.isin(TRUE_WORDS).astype(float).where(present)


def _encode(col: pd.Series) -> pd.Series | None:
    """A numeric version of a column, or None for free text (which the model cannot use)."""
    if pd.api.types.is_bool_dtype(col):
        return col.astype(float)
    if pd.api.types.is_numeric_dtype(col):
        return col.astype(float)
    num = pd.to_numeric(col, errors="coerce")
    if num.notna().sum() == col.notna().sum():
        return num.astype(float)
    text = col.astype(str).str.strip().str.lower().where(col.notna())
    if set(text.dropna().unique()) <= TRUE_WORDS | FALSE_WORDS:
        return text.map(lambda v: np.nan if pd.isna(v) else float(v in TRUE_WORDS))
    return None


def prepare_features(frame: pd.DataFrame, note: Callable[[str], None]) -> pd.DataFrame:
    """Numeric features: numbers kept, booleans and Yes/No encoded as 1/0, free text dropped with a note."""
    out = {}
    for name in frame.columns:
        encoded = _encode(frame[name])
        if encoded is None:
            note(f"dropped column '{name}': text that is not a number or yes/no")
        else:
            out[name] = encoded
    return pd.DataFrame(out, index=frame.index)


def drop_label_leaks(X: pd.DataFrame, y: np.ndarray, note: Callable[[str], None]) -> pd.DataFrame:
    """Drop any column that alone separates the (training) labels almost perfectly: the label in disguise."""
    leaks = []
    for name in X.columns:
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


def _check_columns(frame: pd.DataFrame, path: Path, wanted: dict[str, str | None]) -> None:
    for role, col in wanted.items():
        if col is not None and col not in frame.columns:
            raise MissingColumnError(
                f"{path.name}: no {role} column '{col}'; columns are: {', '.join(map(str, frame.columns))}"
            )


def _cross_validate(X: pd.DataFrame, y: np.ndarray, seed: int, params: dict | None) -> tuple[list, list]:
    aucs, aps = [], []
    for tr, va in StratifiedKFold(5, shuffle=True, random_state=seed).split(X, y):
        p = RiskModel(params=params, seed=seed).fit(X.iloc[tr], y[tr]).predict_proba(X.iloc[va])
        aucs.append(metrics.auc(y[va], p))
        aps.append(metrics.average_precision(y[va], p))
    return aucs, aps


def load_xy(
    path: Path, id_col: str, label_col: str, time_col: str | None, positive: str | None, note: Callable[[str], None]
) -> tuple[pd.Series, pd.DataFrame, np.ndarray, pd.Series | None]:
    """Read and validate the table: ids, numeric features, 0/1 labels, and the time column if any."""
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
    if label.isna().any():
        note(f"left out {int(label.isna().sum())} rows without a label (unlabelled is not negative)")
        frame, label = frame[label.notna()].reset_index(drop=True), label[label.notna()].reset_index(drop=True)
    times = None
    if time_col is not None:
        times = frame[time_col]
        if not pd.api.types.is_numeric_dtype(times):
            times = pd.to_datetime(times, errors="raise")
    X = prepare_features(frame.drop(columns=[c for c in (id_col, label_col, time_col) if c]), note)
    if X.shape[1] == 0:
        raise InputError(f"{path.name}: no usable feature columns remain besides id, label and time")
    return frame[id_col], X, label.to_numpy(), times


def train_table(
    path: Path,
    id_col: str,
    label_col: str,
    time_col: str | None = None,
    test_size: float = 0.2,
    seed: int = 0,
    positive: str | None = None,
    params: dict | None = None,
    note: Callable[[str], None] = print,
) -> TableResult:
    """Split held-out ids, cross-validate and fit a RiskModel on the rest, report held-out ranking figures."""
    start = time.perf_counter()
    notes: list[str] = []

    def say(msg: str) -> None:
        notes.append(msg)
        note(msg)

    if not 0 < test_size < 1:
        raise InputError(f"test_size must be between 0 and 1; got {test_size}")
    ids, X, y, times = load_xy(Path(path), id_col, label_col, time_col, positive, say)
    tr, te, how = split_ids(ids, y, times, test_size, seed)
    X_tr = drop_label_leaks(X.iloc[tr], y[tr], say)
    X_te = X.iloc[te][X_tr.columns]
    aucs, aps = _cross_validate(X_tr, y[tr], seed, params)
    model = RiskModel(params=params, seed=seed).fit(X_tr, y[tr])
    p = model.predict_proba(X_te)
    k = max(1, int(y[te].sum()))
    return TableResult(
        path=str(path),
        n_train=len(tr),
        n_test=len(te),
        pos_train=int(y[tr].sum()),
        pos_test=int(y[te].sum()),
        split=how,
        cv_auc_mean=float(np.mean(aucs)),
        cv_auc_sd=float(np.std(aucs)),
        cv_ap_mean=float(np.mean(aps)),
        cv_ap_sd=float(np.std(aps)),
        test_auc=metrics.auc(y[te], p),
        test_ap=metrics.average_precision(y[te], p),
        k=k,
        precision_at_k=metrics.precision_at_k(y[te], p, k),
        brier=metrics.brier(y[te], p),
        features=list(X_tr.columns),
        notes=notes,
        seconds=time.perf_counter() - start,
        model=model,
    )


def format_table_result(result: TableResult) -> str:
    """A short terminal summary."""
    r = result
    lines = [
        f"Table: {r.path}",
        f"Split: {r.split}",
        f"  train {r.n_train} rows ({r.pos_train} positive) · test {r.n_test} rows ({r.pos_test} positive)",
        f"Cross-validation on train (5-fold): AUC {r.cv_auc_mean:.3f} ± {r.cv_auc_sd:.3f} · "
        f"AP {r.cv_ap_mean:.3f} ± {r.cv_ap_sd:.3f}",
        f"Held-out: AUC {r.test_auc:.3f} · AP {r.test_ap:.3f} · precision@{r.k} {r.precision_at_k:.3f} · "
        f"Brier {r.brier:.4f}",
        f"Features: {len(r.features)} · {r.seconds:.1f} s",
    ]
    lines += [f"Note: {n}" for n in r.notes]
    return "\n".join(lines)


def run_train_table(file: Path, id_col: str, label_col: str, time_col: str | None, console: Any) -> TableResult:
    """CLI entry: train on a prepared table and print the summary with a rich console."""
    result = train_table(file, id_col, label_col, time_col, note=lambda _m: None)  # notes come in the summary
    console.print(format_table_result(result), markup=False, highlight=False)
    return result
