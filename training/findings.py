"""Every finding training learns from: the ingested ones and the ones recorded since, as one table.

Findings recorded through the service (or by a campaign) live in the records database
(`records.read_findings`); the workspace's `raw/inspections` holds the ingested export. Both are the
input contract's `inspections` and `insp_dr_points`; a recorded row is checked against the contract
(required values, codes, bounds: `features.schema.INSPECTIONS`) as ingest checks an exported one,
and a recorded insp_id wins over the same id ingested. A finding made on a saved round's pick
carries that round's planning date and the probability with which the pick was drawn
(`records.read_picks`), which the labels and inverse-propensity weights read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy.exc import OperationalError, ProgrammingError

from features.schema import INSPECTIONS
from feijian.errors import InputError
from feijian.settings import db_url_env
from records import Database, checked_lines, read_findings, read_picks, rule_quality, union_findings
from records.db import default_url


@dataclass
class Findings:
    """The union, with what came from where."""

    inspections: pd.DataFrame  # contract columns + source ("ingested" / "recorded") + pick columns
    points: pd.DataFrame  # insp_id, dr_code, points
    counts: dict[str, int] = field(default_factory=dict)


def _empty_records() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return pd.DataFrame(), pd.DataFrame(columns=["insp_id", "dr_code", "points"]), pd.DataFrame(), pd.DataFrame()


def read_recorded(workspace: Path, db_url: str | None = None) -> tuple[pd.DataFrame, ...]:
    """(inspections, points, finding_picks, round picks) from the records database; empty when the
    workspace has none (a missing SQLite file is not created just to be read)."""
    url = db_url or db_url_env() or default_url(Path(workspace))
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return _empty_records()
    db = Database(url)
    try:
        insp, points, links = read_findings(db)
        picks = read_picks(db)
    except (OperationalError, ProgrammingError):  # a database of an older layout, or one without records
        return _empty_records()
    finally:
        db.dispose()
    return insp, points, links, picks


def read_rule_quality(workspace: Path, db_url: str | None = None) -> pd.DataFrame:
    """Each rule's checked hits and confirmed share from cases' worklists (records.worklist); empty when
    the workspace has no records database or no line was checked yet."""
    url = db_url or db_url_env() or default_url(Path(workspace))
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return rule_quality(pd.DataFrame())
    db = Database(url)
    try:
        return rule_quality(checked_lines(db))
    except (OperationalError, ProgrammingError):  # a database without case tables yet
        return rule_quality(pd.DataFrame())
    finally:
        db.dispose()


def check_contract(frame: pd.DataFrame, where: str) -> None:
    """Each row against the `inspections` contract: the first bad value named by insp_id and field."""
    for col in INSPECTIONS.columns:
        if col.name not in frame.columns:
            if col.required:
                raise InputError(f"{where}: column {col.name} ({col.label}) is missing")
            continue
        values = frame[col.name]
        missing = values.isna()
        if col.required and not col.nullable and missing.any():
            first = frame.loc[missing, "insp_id"].iloc[0]
            raise InputError(f"{where}: insp_id {first}: {col.name} ({col.label}) is empty")
        if col.codes:
            bad = ~missing & ~values.astype(str).isin(list(col.codes))
            if bad.any():
                raise InputError(f"{where}: insp_id {frame.loc[bad, 'insp_id'].iloc[0]}: {col.name} "
                                 f"{values[bad].iloc[0]!r} is not one of {', '.join(col.codes)}")  # fmt: skip
        if col.min_value is not None:
            bad = ~missing & (pd.to_numeric(values, errors="coerce") < col.min_value)
            if bad.any():
                raise InputError(f"{where}: insp_id {frame.loc[bad, 'insp_id'].iloc[0]}: {col.name} is below "
                                 f"{col.min_value}")  # fmt: skip
        if col.at_most is not None and col.at_most in frame.columns:
            cap = pd.to_numeric(frame[col.at_most], errors="coerce") + 0.01  # ingest's tolerance
            bad = ~missing & (pd.to_numeric(values, errors="coerce") > cap)
            if bad.any():
                raise InputError(f"{where}: insp_id {frame.loc[bad, 'insp_id'].iloc[0]}: {col.name} exceeds "
                                 f"{col.at_most}")  # fmt: skip


def all_findings(workspace: Path, ingested: pd.DataFrame, ingested_points: pd.DataFrame,
                 db_url: str | None = None) -> Findings:
    """The ingested findings (as read from the workspace) and the recorded ones, a recorded insp_id winning."""
    recorded, rec_points, links, picks = read_recorded(workspace, db_url)
    if not recorded.empty:
        check_contract(recorded, "recorded findings (records database)")
    rec_ids = set(recorded["insp_id"]) if not recorded.empty else set()
    both = union_findings(recorded.assign(source="recorded") if not recorded.empty else recorded,
                          ingested.assign(source="ingested") if not ingested.empty else ingested)  # fmt: skip
    if not links.empty and not picks.empty:
        drawn = links.merge(picks[["round_id", "rank", "as_of", "probability"]], on=["round_id", "rank"])
        drawn = drawn.rename(columns={"as_of": "round_as_of", "probability": "pick_probability"})
        both = both.merge(drawn[["insp_id", "round_as_of", "pick_probability"]], on="insp_id", how="left")
    else:
        both = both.assign(round_as_of=None, pick_probability=float("nan"))
    kept = ingested_points[~ingested_points["insp_id"].isin(rec_ids)] if not ingested_points.empty else ingested_points
    points = pd.concat([f for f in (kept, rec_points) if not f.empty], ignore_index=True) if (
        not kept.empty or not rec_points.empty) else pd.DataFrame(columns=["insp_id", "dr_code", "points"])
    n_ingested = len(ingested)
    counts = {
        "ingested": int((both["source"] == "ingested").sum()) if "source" in both else 0,
        "recorded": int((both["source"] == "recorded").sum()) if "source" in both else 0,
        "recorded_replacing_ingested": len(rec_ids & set(ingested["insp_id"])) if n_ingested else 0,
        "on_saved_rounds": int(both["pick_probability"].notna().sum()) if "pick_probability" in both else 0,
    }
    return Findings(both, points, counts)
