"""What the service loads once at start: the champion bundle, the newest snapshot, their explanations.

Refuses to start, with a message that says what to run, when either is missing or when they do not
match (the snapshot was built with other feature declarations than the model was trained on).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from features.build import latest_snapshot
from feijian.errors import NotReadyError
from feijian.settings import Workspace, bundle_override, models_dir, workspace_dir
from serving.db import Database
from serving.sources import read_table
from serving.store import open_database
from training.bundle import Bundle, champion_path

FINDINGS_TTL = 1.0  # seconds


@dataclass
class ServingState:
    workspace: Workspace
    bundle: Bundle
    snapshot: Path
    snapshot_meta: dict
    explainer: object  # serving.explain.Explainer
    db: Database
    facilities: pd.DataFrame  # identity of every facility in the snapshot (name, region, type, level, ownership)
    ingested: pd.DataFrame  # the workspace's inspections table, read once: it does not change while serving
    # Findings recorded through the service (by any worker) are noticed within FINDINGS_TTL seconds.
    _findings: tuple[float, tuple[int, str]] | None = field(default=None, repr=False)
    _inspections: tuple[tuple[int, str], pd.DataFrame] | None = field(default=None, repr=False)

    @property
    def as_of(self) -> date:
        return date.fromisoformat(self.snapshot_meta["as_of"])

    def findings_version(self, now: float | None = None) -> tuple[int, str]:
        """A token that changes when a finding is recorded or corrected; the database is asked at most
        once per FINDINGS_TTL seconds (a cheap COUNT/MAX), so caches keyed by it stay right across workers."""
        from serving.findings import version

        now = time.monotonic() if now is None else now
        if self._findings is None or now - self._findings[0] > FINDINGS_TTL:
            self._findings = (now, version(self.db))
        return self._findings[1]

    def forget_findings(self) -> None:
        """This worker just recorded a finding: ask the database again on the next request."""
        self._findings = None

    def inspections(self) -> pd.DataFrame:
        """Ingested findings and the ones recorded through the service (an insp_id recorded later wins).

        Kept until the findings version changes; callers must not modify the frame."""
        v = self.findings_version()
        if self._inspections is None or self._inspections[0] != v:
            self._inspections = (v, self._read_inspections())
        return self._inspections[1]

    def _read_inspections(self) -> pd.DataFrame:
        from serving.findings import as_frames

        recorded, _ = as_frames(self.db)
        frames = [f for f in (recorded, self.ingested) if not f.empty]
        if not frames:
            return pd.DataFrame(
                columns=[
                    "insp_id",
                    "fixmedins_code",
                    "insp_date",
                    "amount_recovered",
                    "violation_types",
                    "agreement_action",
                ]
            )
        both = pd.concat(frames, ignore_index=True)
        both["insp_date"] = pd.to_datetime(both["insp_date"]).dt.date
        return both.drop_duplicates("insp_id", keep="first").reset_index(drop=True)


def check_compatible(bundle: Bundle, meta: dict) -> None:
    want, got = bundle.meta.get("declaration_version"), meta.get("declaration_version")
    if want != got:
        raise NotReadyError(
            f"the champion model (v{bundle.version}) was trained on feature declarations {want}, but the newest "
            f"snapshot {meta.get('snapshot_id')} was built with {got}: rebuild the snapshot "
            "(`feijian features --as-of DATE`) or retrain (`feijian train`)"
        )


def load_state(workspace: Path | None = None, models: Path | None = None, db_url: str | None = None) -> ServingState:
    from serving.explain import Explainer

    ws = Workspace(workspace_dir(workspace))
    bundle_path = bundle_override() or champion_path(models_dir(models))
    bundle = Bundle.load(bundle_path)
    snapshot = latest_snapshot(ws.root)
    if not (snapshot / "meta.json").is_file():
        raise NotReadyError(f"snapshot {snapshot} is incomplete (no meta.json); rebuild it with `feijian features`")
    meta = json.loads((snapshot / "meta.json").read_text(encoding="utf-8"))
    check_compatible(bundle, meta)
    explainer = Explainer.build(ws.root, bundle, snapshot)
    db = open_database(ws.root, db_url)
    return ServingState(
        ws, bundle, snapshot, meta, explainer, db, read_table(ws.root, "fixmedins"), read_table(ws.root, "inspections")
    )
