"""A small trained setup for the serving tests: a hand-built province, one snapshot, a real bundle.

40 general secondary hospitals in two regions. Twelve ("bad", B01–B12) split stays (readmit the same
patient 2 days after discharge); the rest (G13–G40) do not, though G17–G20 bill a prostate test to
women (rule evidence that is not what the labels are about), and G31, G33 and G35 share twelve
cards on the same days, twice a month (a ring). The
bundle is fitted on the snapshot's rows with "serious" = bad and exported with the production
`export_bundle`, so explanations read exactly what serving reads. Simulating and training a province
would take minutes on a busy machine; this takes seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from features.snapshot.build import build_snapshot
from features.snapshot.registry import declaration_version
from tests.builders import Province
from training.bundle import Bundle, export_bundle
from training.context import context_spec
from training.dataset import (
    add_facility_context,
    add_physician_context,
    column_label,
    facility_columns,
    physician_columns,
)
from training.model import RiskModel
from training.target_model import TargetModel

AS_OF = date(2024, 1, 1)
N_BAD, N_ALL = 12, 40
PARAMS = {
    "min_data_in_leaf": 3,
    "num_leaves": 4,
    "learning_rate": 0.2,
    "feature_fraction": 1.0,
    "bagging_fraction": 1.0,
}


RING = ("G31", "G33", "G35")  # twelve cards taken to all three on the same days: a ring (features/rings)


def code(i: int) -> str:
    return f"B{i:02d}" if i <= N_BAD else f"G{i:02d}"


def make_province() -> Province:
    p = Province()
    start = datetime(2023, 2, 1, 9)
    for i in range(1, N_ALL + 1):
        c = code(i)
        p.facility(c, "general", "05", beds=60, region="990101" if i % 2 else "990102")
        p.physician(f"{c}D1", c)
        p.physician(f"{c}D2", c)
        bad = i <= N_BAD
        n_pat = 6 + i % 4
        for k in range(n_pat):
            psn = f"P{c}{k:02d}"
            admit = start + timedelta(days=25 * k + i % 7)
            p.stay(psn, c, f"{c}D1", admit, days=4)
            gap = 2 if bad and k % 2 == 0 else 60
            p.stay(psn, c, f"{c}D2", admit + timedelta(days=4 + gap), days=3)
            women = 17 <= i <= 20 and k < 2
            lines = [("LAB_PSA", 1, 80.0)] if women else [("TRT_IV", 1, 20.0)]
            p.visit(psn, c, f"{c}D1", admit - timedelta(days=3), lines=lines, gend="2" if women else "1")
    month = start
    while month < datetime(2024, 1, 1):
        for day in (5, 19):
            for k in range(12):
                when = month.replace(day=day, hour=9) + timedelta(minutes=5 * k)
                for h, c in enumerate(RING):
                    p.visit(f"RING{k:02d}", c, f"{c}D1", when + timedelta(hours=2 * h), dx="I10")
        month = (month.replace(day=28) + timedelta(days=5)).replace(day=1)
    # inspection history: G14 visited 60 days before as_of, G15 a year ago with nothing found,
    # G16 two years ago with money recovered.
    p.inspection("G14", AS_OF - timedelta(days=60), recovered=30_000)
    p.inspection("G15", AS_OF - timedelta(days=200), recovered=0.0)
    p.inspection("G16", AS_OF - timedelta(days=700), recovered=90_000)
    p.inspection("B01", AS_OF + timedelta(days=30), recovered=99_000)  # after as_of: never shown
    return p


@dataclass
class Setup:
    workspace: Path
    snapshot: Path
    bundle: Bundle


def build(root: Path) -> Setup:
    ws = make_province().write(root / "ws")
    snap = build_snapshot(ws, AS_OF, 12).path
    fac = add_facility_context(pd.read_parquet(snap / "facility.parquet"), 0)
    fac["serious"] = fac["fixmedins_code"].str.startswith("B").astype(float)
    fac["amount_recovered"] = np.where(fac["serious"] == 1, 100_000.0 + 1000 * fac.index, 0.0)
    model = TargetModel(facility_columns(), params=PARAMS, seed=0).fit(fac)
    dr = add_physician_context(pd.read_parquet(snap / "physician.parquet"), fac, 0)
    y = dr["fixmedins_code"].str.startswith("B").to_numpy(dtype=float)
    dr_model = RiskModel(params=PARAMS, seed=0).fit(dr[physician_columns()].astype(float), y)
    meta = {
        "model_version": "1",
        "model_name": "feijian-test",
        "run_id": "test-run",
        "seed": 0,
        "declaration_version": declaration_version(),
        "snapshot_id": snap.name,
        "trained_at": "2024-01-01T00:00:00+00:00",
    }
    labels = {c: column_label(c) for c in facility_columns() + physician_columns()}
    path = export_bundle(
        root / "models" / "v1", model, dr_model, physician_columns(), labels, snap, meta, context_spec(0)
    )
    return Setup(ws, snap, Bundle.load(path))


def mark(setup: Setup) -> Path:
    """Make the setup's bundle the champion of its models folder (for the CLI)."""
    from training.bundle import mark_champion

    models = setup.bundle.path.parent
    mark_champion(models, setup.bundle.path, "feijian-test", "1")
    return models
