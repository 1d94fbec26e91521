"""What the service loads once at start: the champion bundle, the newest snapshot, their explanations.

Refuses to start, with a message that says what to run, when either is missing or when they do not
match (the snapshot was built with other feature declarations than the model was trained on).
"""

from __future__ import annotations

import functools
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from features.snapshot import latest_snapshot
from feijian.errors import NotReadyError
from feijian.settings import Workspace, bundle_override, models_dir, workspace_dir
from records import union_findings
from records.db import Database
from serving.explain import Explainer
from serving.findings import RecordedFindings
from serving.sources import read_table
from serving.store import open_database
from training.bundle import Bundle, champion_path

FINDINGS_TTL = 1.0  # seconds
Exclusions = tuple[frozenset[str], frozenset[str]]


@dataclass
class ServingState:
    workspace: Workspace
    bundle: Bundle
    snapshot: Path
    snapshot_meta: dict
    explainer: Explainer
    db: Database
    facilities: pd.DataFrame  # identity of every facility in the snapshot (name, region, type, level, ownership)
    ingested: pd.DataFrame  # the workspace's inspections table, read once: it does not change while serving
    # Findings recorded through the service (by any worker) are noticed within FINDINGS_TTL seconds.
    _findings: tuple[float, tuple[int, str]] | None = field(default=None, repr=False)
    _recorded: RecordedFindings = field(default_factory=lambda: RecordedFindings(), repr=False)
    _inspections: tuple[int, pd.DataFrame] | None = field(default=None, repr=False)
    _exclusions: dict[tuple[int, int], tuple[int, Exclusions]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.explainer.history_source = self.inspections  # reports and evidence see recorded findings at once

    @property
    def as_of(self) -> date:
        return date.fromisoformat(self.snapshot_meta["as_of"])

    @functools.cached_property
    def facility_names(self) -> dict[str, str]:
        """Facility code → name, for the cases, their notices and saved rounds (the snapshot does not change)."""
        fac = self.facilities
        return dict(zip(fac["fixmedins_code"], fac["fixmedins_name"], strict=False)) if not fac.empty else {}

    def findings_version(self, now: float | None = None) -> tuple[int, str]:
        """A token that changes when a finding is recorded or corrected; the database is asked at most
        once per FINDINGS_TTL seconds (a cheap COUNT/MAX), and what changed is read then (serving.findings).
        While another thread is catching up, the last token is returned rather than waited for."""
        now = time.monotonic() if now is None else now
        stale = self._findings is None or now - self._findings[0] > FINDINGS_TTL
        if stale and self._lock.acquire(blocking=self._findings is None):
            try:
                self._catch_up(now)
            finally:
                self._lock.release()
        assert self._findings is not None
        return self._findings[1]

    def findings_recorded(self) -> None:
        """This worker just recorded a finding: catch up now, in the recording request's thread, so
        its next plan sees it and the event loop does not pay for the read."""
        with self._lock:
            self._catch_up(time.monotonic())

    def forget_findings(self) -> None:
        """Ask the database again on the next request (for findings changed behind the service's back)."""
        self._findings = None

    def _catch_up(self, now: float) -> None:
        from serving.findings import version

        v = version(self.db)
        if v != self._recorded.version:
            self._recorded.refresh(self.db, v, self.as_of)
        self._findings = (now, v)

    def inspections(self) -> pd.DataFrame:
        """Ingested findings and the ones recorded through the service (an insp_id recorded later wins).

        Rebuilt when a recorded finding changed; callers must not modify the frame."""
        self.findings_version()
        rec = self._recorded
        cached = self._inspections
        if cached is None or cached[0] != rec.changes:
            with self._lock:
                changes, recorded = rec.changes, rec.frame()
            cached = self._inspections = (changes, self._combine(recorded))
        return cached[1]

    def recorded(self) -> tuple[int, frozenset[str]]:
        """(a counter that changes with every recorded finding, the insp_ids recorded through the service)."""
        self.findings_version()
        with self._lock:
            return self._recorded.changes, frozenset(self._recorded.rows)

    def exclusions(self, exclude_days: int, cooldown_days: int) -> Exclusions:
        """(recently inspected, clean within the cool-down) facility codes for a plan: all a plan reads
        of the findings. Recomputed only when a recorded finding dated before as_of changed (one dated
        after it, such as this round's, cannot exclude anything); equal sets come back equal, so plans
        cached under them stay valid."""
        from serving.plan import exclusion_sets

        hit = self.current_exclusions(exclude_days, cooldown_days)
        if hit is not None:
            return hit
        stamp = self._recorded.before_as_of_changes
        hit = self._exclusions.get((exclude_days, cooldown_days))
        if hit is None or hit[0] != stamp:
            recent, clean = exclusion_sets(self.inspections(), self.as_of, exclude_days, cooldown_days)
            value = (frozenset(recent), frozenset(clean))
            if hit is not None and hit[1] == value:
                value = hit[1]  # the same objects: cache keys built from them compare by identity first
            if len(self._exclusions) > 64:
                self._exclusions.clear()
            hit = self._exclusions[(exclude_days, cooldown_days)] = (stamp, value)
        return hit[1]

    def current_exclusions(self, exclude_days: int, cooldown_days: int) -> Exclusions | None:
        """The exclusion sets when they are still valid, else None (then `exclusions` computes them:
        ~20 ms of pandas, which the service does in a worker thread, not on its event loop)."""
        self.findings_version()
        hit = self._exclusions.get((exclude_days, cooldown_days))
        return hit[1] if hit is not None and hit[0] == self._recorded.before_as_of_changes else None

    @functools.cached_property
    def ingested_points(self) -> pd.DataFrame:
        """The workspace's insp_dr_points table, read once (it does not change while serving)."""
        from serving.sources import read_table

        pts = read_table(self.workspace.root, "insp_dr_points")
        return pts[["insp_id", "dr_code", "points"]] if not pts.empty else pd.DataFrame(
            columns=["insp_id", "dr_code", "points"])

    def points(self, dr_codes: list[str]) -> pd.DataFrame:
        """Points recorded against these physicians (记分, the ingested ones and those decided through the
        service, a recorded inspection's winning), with the inspection's date and facility, newest first.
        The recorded ones are read with their finding in one query, so a point never lacks its date."""
        from sqlalchemy import select

        from records import Finding, FindingPoints

        cols = ["insp_id", "dr_code", "points", "insp_date", "fixmedins_code"]
        with self.db.session() as s:
            rec = pd.DataFrame(s.execute(
                select(FindingPoints.insp_id, FindingPoints.dr_code, FindingPoints.points, Finding.insp_date,
                       Finding.fixmedins_code).join(Finding, Finding.insp_id == FindingPoints.insp_id)
                .where(FindingPoints.dr_code.in_(dr_codes))).all(), columns=cols)
            ing = self.ingested_points
            ing = ing[ing["dr_code"].isin(dr_codes)]
            # an ingested inspection recorded again through the service: the recorded one stands
            again = set(s.scalars(select(Finding.insp_id).where(Finding.insp_id.in_(set(ing["insp_id"]))))) \
                if not ing.empty else set()
        ing = ing[~ing["insp_id"].isin(again)]
        if not ing.empty and not self.ingested.empty:
            ing = ing.merge(self.ingested[["insp_id", "insp_date", "fixmedins_code"]], on="insp_id", how="left")
        else:
            ing = ing.assign(insp_date=None, fixmedins_code=None)
        frames = [f[cols] for f in (ing, rec) if not f.empty]
        if not frames:
            return pd.DataFrame(columns=cols)
        out = pd.concat(frames, ignore_index=True)
        out["insp_date"] = pd.to_datetime(out["insp_date"]).dt.date
        return out.sort_values(["insp_date", "insp_id"], ascending=False, kind="mergesort").reset_index(drop=True)

    def _combine(self, recorded: pd.DataFrame) -> pd.DataFrame:
        return union_findings(recorded, self.ingested)


def check_compatible(bundle: Bundle, meta: dict) -> None:
    want, got = bundle.meta.get("declaration_version"), meta.get("declaration_version")
    if want != got:
        raise NotReadyError(
            f"the champion model (v{bundle.version}) was trained on feature declarations {want}, but the newest "
            f"snapshot {meta.get('snapshot_id')} was built with {got}: rebuild the snapshot "
            "(`feijian features --as-of DATE`) or retrain (`feijian train`)"
        )


def load_state(workspace: Path | None = None, models: Path | None = None, db_url: str | None = None) -> ServingState:
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
