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

from features.schema import (
    AGREEMENT_ACTION,
    FIXMEDINS_TYPE,
    HOSP_LV,
    HOSP_TIER_ZH,
    INSP_TYPE,
    OWNERSHIP,
    SELECTION,
    VIOLATION,
)
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
    "insp_type",
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


def region_names(workspace: Path) -> dict[str, str]:
    """admdvs → its name, from the workspace's region table (empty when the export had none)."""
    frame = read_table(workspace, "admdvs")
    if frame.empty:
        return {}
    frame = frame.dropna(subset=["admdvs", "admdvs_name"])
    return dict(zip(frame["admdvs"].astype(str), frame["admdvs_name"].astype(str), strict=True))


def region_column(codes: pd.Series, names: dict[str, str]) -> pd.Series:
    """The region name of each code, the code itself where the region table does not list it."""
    text = codes.astype("string")
    return text.map(names).fillna(text) if names else text


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


def violations_zh(codes: object) -> str:
    """A finding's ';'-joined violation codes in Chinese (a code the schema does not name stays as it is)."""
    if not isinstance(codes, str) or not codes.strip():
        return "—"
    return "、".join(VIOLATION.get(c.strip(), c.strip()) for c in codes.split(";") if c.strip())


def history(inspections: pd.DataFrame, code: str, recorded: set[str] | frozenset[str] = frozenset()) -> list[dict]:
    """One facility's inspections, newest first, with their codes in Chinese; `recorded` names the ones
    recorded through the service (shown as such: the next training learns from them)."""
    if inspections.empty:
        return []
    rows = inspections[inspections["fixmedins_code"].astype(str) == str(code)]
    rows = rows.sort_values(["insp_date", "insp_id"], ascending=False, kind="mergesort")
    out = []
    for r in rows.to_dict("records"):
        r = {k: (None if v is pd.NaT or (isinstance(v, float) and v != v) else v) for k, v in r.items()}
        r["selection_zh"] = SELECTION.get(str(r.get("selection")), r.get("selection"))
        r["insp_type_zh"] = INSP_TYPE.get(str(r.get("insp_type")), r.get("insp_type")) or "未记录"  # optional column
        r["violation_zh"] = violations_zh(r.get("violation_types"))
        r["agreement_action_zh"] = AGREEMENT_ACTION.get(str(r.get("agreement_action")), r.get("agreement_action"))
        r["recorded"] = r["insp_id"] in recorded
        out.append(r)
    return out


def identity_zh(row: pd.Series | dict, regions: dict[str, str] | None = None) -> dict[str, Any]:
    """Codes with their Chinese names, as a report prints them."""
    get = row.get
    admdvs = get("admdvs")
    return {
        "fixmedins_code": get("fixmedins_code"),
        "name": get("fixmedins_name") or get("fixmedins_code"),
        "fixmedins_type": get("fixmedins_type"),
        "type_zh": FIXMEDINS_TYPE.get(str(get("fixmedins_type")), str(get("fixmedins_type"))),
        "hosp_lv": get("hosp_lv"),
        "hosp_lv_zh": HOSP_LV.get(str(get("hosp_lv")), str(get("hosp_lv"))),
        "ownership": get("ownership"),
        "ownership_zh": OWNERSHIP.get(str(get("ownership")), str(get("ownership"))),
        "admdvs": admdvs,
        "admdvs_name": (regions or {}).get(str(admdvs), admdvs),
        "peer_group": get("peer_group"),
        "peer_group_zh": peer_group_zh(get("peer_group")),
    }


def peer_group_zh(group: object) -> str:
    """A facility peer group ('pharmacy|0') as a reader says it: 定点零售药店 · 未定级."""
    if not isinstance(group, str) or "|" not in group:
        return "—" if group is None else str(group)
    kind, _, tier = group.partition("|")
    tier_zh = HOSP_TIER_ZH.get(int(tier), tier) if tier.lstrip("-").isdigit() else tier
    return f"{FIXMEDINS_TYPE.get(kind, kind)} · {tier_zh}"
