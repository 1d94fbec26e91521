"""What explanations read from the workspace besides the snapshot: facility names and inspection history.

Both come from the raw tables ingest wrote (read with `features.snapshot.source_expr`, as the feature
SQL does). A workspace without them still explains: names fall back to codes, the history is empty.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from features.schema import FIXMEDINS_TYPE, HOSP_LV, OWNERSHIP
from features.snapshot import source_expr
from feijian.errors import MissingWorkspaceTableError

INSPECTION_COLUMNS = [
    "insp_id",
    "fixmedins_code",
    "batch",
    "insp_date",
    "period_begn",
    "period_end",
    "selection",
    "violation_types",
    "amount_involved",
    "amount_recovered",
    "fine_amount",
    "agreement_action",
    "referral",
]


def _query(sql: str) -> pd.DataFrame:
    con = duckdb.connect()
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def read_table(workspace: Path, table: str) -> pd.DataFrame:
    """A whole workspace table (empty frame when the workspace does not have it)."""
    try:
        src = source_expr(Path(workspace), table)
    except MissingWorkspaceTableError:
        return pd.DataFrame()
    return _query(f"SELECT * FROM {src}")


def facility_names(workspace: Path) -> pd.DataFrame:
    """fixmedins_code → fixmedins_name (empty frame when the workspace has no fixmedins table)."""
    try:
        src = source_expr(Path(workspace), "fixmedins")
    except MissingWorkspaceTableError:
        return pd.DataFrame(columns=["fixmedins_code", "fixmedins_name"])
    return _query(f"SELECT DISTINCT fixmedins_code, fixmedins_name FROM {src}").drop_duplicates("fixmedins_code")


def inspections_before(workspace: Path, as_of: date) -> pd.DataFrame:
    """Every inspection visited before `as_of` (the snapshot's planning date), newest first."""
    try:
        src = source_expr(Path(workspace), "inspections")
    except MissingWorkspaceTableError:
        return pd.DataFrame(columns=INSPECTION_COLUMNS)
    frame = _query(f"SELECT * FROM {src} WHERE insp_date < DATE '{as_of.isoformat()}' ORDER BY insp_date DESC")
    cols = [c for c in INSPECTION_COLUMNS if c in frame.columns]
    out = frame[cols].copy()
    out["insp_date"] = pd.to_datetime(out["insp_date"]).dt.date
    return out


def identity_zh(row: pd.Series | dict) -> dict[str, Any]:
    """Codes with their Chinese names, as a report prints them."""
    get = row.get
    return {
        "fixmedins_code": get("fixmedins_code"),
        "name": get("fixmedins_name") or get("fixmedins_code"),
        "fixmedins_type": get("fixmedins_type"),
        "type_zh": FIXMEDINS_TYPE.get(str(get("fixmedins_type")), str(get("fixmedins_type"))),
        "hosp_lv": get("hosp_lv"),
        "hosp_lv_zh": HOSP_LV.get(str(get("hosp_lv")), str(get("hosp_lv"))),
        "ownership": get("ownership"),
        "ownership_zh": OWNERSHIP.get(str(get("ownership")), str(get("ownership"))),
        "admdvs": get("admdvs"),
        "peer_group": get("peer_group"),
    }
