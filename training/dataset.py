"""Point-in-time training examples: (target, round) → features as of the round's planning date.

Built from an (entity, as_of) frame, the way a feature store serves historical features: each
inspection round has one planning date (`labels.round_dates`), the feature snapshot for that date
reads nothing dated on or after it (features.snapshot.build), and the round's findings are joined onto that
snapshot only. A backtest fold therefore cannot see its own future, by construction; `check_fold`
asserts it anyway.

A round keeps every candidate target (inspected or not): evaluation ranks all of them, propensity
weights compare the inspected with the rest, and the labelled rows are a subset.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from features.schema import FIXMEDINS_TYPE
from features.snapshot import Window, build_snapshot, registry, snapshot_identity
from feijian.errors import InputError
from feijian.settings import Workspace
from training.anomaly import ANOMALY_COLUMN
from training.context import context_spec, facility_context, physician_context
from training.labels import check_round

# Model inputs besides the registry's features: who the target is, in numbers a tree can split on.
CONTEXT_LABELS: dict[str, str] = {
    "hosp_tier": "医院等级（层级）",
    "is_private": "民营机构",
    **{f"type_{code}": f"机构类型：{name}" for code, name in FIXMEDINS_TYPE.items()},
    ANOMALY_COLUMN: "同类异常度（无监督）",
}


def facility_columns() -> list[str]:
    """Every column the facility model sees, in a fixed order (the bundle records it)."""
    return registry.model_columns("facility") + list(CONTEXT_LABELS)


def physician_columns() -> list[str]:
    return [*registry.model_columns("physician"), "dr_facility_tier", ANOMALY_COLUMN]


def column_label(column: str) -> str:
    """Chinese label of any model column."""
    if column in CONTEXT_LABELS:
        return CONTEXT_LABELS[column]
    if column == "dr_facility_tier":
        return "所在机构层级"
    return registry.column_label(column)


def snapshot_for(
    workspace: Path, as_of: date, window_months: int, progress: Callable[[str], None] | None = None
) -> Path:
    """The snapshot for (as_of, window) on the current inputs: reused when already built, else built."""
    ws = Workspace(Path(workspace))
    sid, _ = snapshot_identity(ws, Window(as_of, window_months))
    path = ws.features / sid
    if (path / "meta.json").is_file() and (path / "facility.parquet").is_file():
        return path
    return build_snapshot(Path(workspace), as_of, window_months, progress=progress).path


def read_meta(snapshot: Path) -> dict:
    return json.loads((snapshot / "meta.json").read_text(encoding="utf-8"))


def add_facility_context(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """hosp_tier, ownership and type as numbers, and the snapshot's own anomaly score (training.context)."""
    return facility_context(frame, context_spec(seed))


def add_physician_context(frame: pd.DataFrame, facility: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    return physician_context(frame, facility, context_spec(seed))


def matrix(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The model matrix in the declared column order; a missing column is an error, not a zero."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"feature table lacks {len(missing)} model column(s), e.g. {missing[:3]}: the snapshot was built "
            "with other declarations; rebuild it with `feijian features --as-of DATE`"
        )
    return frame[columns].astype(float)


@dataclass
class Round:
    """One inspection round: its planning date, every candidate facility, and the labelled ones."""

    batch: str
    as_of: date
    snapshot: Path
    candidates: pd.DataFrame  # all facilities in the snapshot, context added
    labelled: pd.DataFrame  # one row per inspection in this round, features joined
    physicians: pd.DataFrame  # all physicians in the snapshot, context added
    physician_labelled: pd.DataFrame


def build_rounds(
    workspace: Path,
    fac_labels: pd.DataFrame,
    dr_labels: pd.DataFrame | None = None,
    window_months: int = 12,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[Round]:
    """Every labelled round, oldest first, each with features as of its own planning date."""
    say = progress or (lambda _m: None)
    rounds = []
    batches = fac_labels.groupby("batch", sort=False)["as_of"].first().sort_values()
    for batch, as_of in batches.items():
        lab = fac_labels[fac_labels["batch"] == batch]
        check_round(lab, as_of)
        say(f"round {batch}: features as of {as_of}")
        snap = snapshot_for(workspace, as_of, window_months)
        meta = read_meta(snap)
        if meta["as_of"] != as_of.isoformat():
            raise InputError(f"snapshot {snap.name} is as of {meta['as_of']}, round {batch} needs {as_of}")
        cand = add_facility_context(pd.read_parquet(snap / "facility.parquet"), seed)
        labelled = lab.merge(cand, on="fixmedins_code", how="inner")
        docs = add_physician_context(pd.read_parquet(snap / "physician.parquet"), cand, seed)
        dr_lab = pd.DataFrame()
        if dr_labels is not None and not dr_labels.empty:
            dr_lab = dr_labels[dr_labels["batch"] == batch].merge(
                docs.drop(columns=["fixmedins_code"]), on="dr_code", how="inner"
            )
        rounds.append(Round(str(batch), as_of, snap, cand, labelled, docs, dr_lab))
    return rounds


def known_before(frame: pd.DataFrame, day: date) -> pd.DataFrame:
    """Labelled rows whose round was planned, and whose visit happened, before `day`."""
    if frame.empty:
        return frame
    return frame[(frame["as_of"] < day) & (frame["insp_date"] < day)]


def check_fold(train: pd.DataFrame, test: Round) -> None:
    """No leakage between folds: every training row was planned, visited and found before the test round."""
    if not train.empty:
        late = train[(train["as_of"] >= test.as_of) | (train["insp_date"] >= test.as_of)]
        if not late.empty:
            row = late.iloc[0]
            raise InputError(
                f"backtest fold {test.batch}: training row {row['insp_id']} (round {row['batch']}, visited "
                f"{row['insp_date']}) is not known by the test round's planning date {test.as_of}"
            )
    meta = read_meta(test.snapshot)
    if date.fromisoformat(meta["as_of"]) > test.as_of:
        raise InputError(f"backtest fold {test.batch}: its snapshot is as of {meta['as_of']}, after {test.as_of}")


def stack(rounds: list[Round], physician: bool = False) -> pd.DataFrame:
    frames = [r.physician_labelled if physician else r.labelled for r in rounds]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)
