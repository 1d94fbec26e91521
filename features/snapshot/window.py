"""The as-of window with the parameters the feature SQL reads (its dates and the facts of
features.facts), and the source views both engines read (features.snapshot.build for DuckDB,
features.snapshot.spark for Spark): shared here, so each engine imports them and neither imports the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from dateutil.relativedelta import relativedelta

from features.facts import MILD_DIAGNOSES, SERIOUS_ACTIONS, SERIOUS_RECOVERED
from features.rules.kinds import hit_share_params
from features.schema import HOSP_TIER, INPATIENT_MED_TYPES, SQL_TYPES, TABLES, Table
from features.sql_text import values
from feijian.errors import MissingColumnError, MissingWorkspaceTableError
from feijian.settings import Workspace


@dataclass(frozen=True)
class Window:
    as_of: date
    months: int

    @property
    def start(self) -> date:
        return self.as_of - relativedelta(months=self.months)

    @property
    def prev_start(self) -> date:
        return self.as_of - relativedelta(months=2 * self.months)

    def params(self) -> dict[str, object]:
        """Every value the feature SQL names as a parameter: the window's dates and the declared facts."""
        return {
            "as_of": self.as_of,
            "window_start": self.start,
            "prev_start": self.prev_start,
            "recent_start": self.as_of - relativedelta(months=3),
            "recent_prev_start": self.as_of - relativedelta(months=6),
            "window_days": (self.as_of - self.start).days,
            "inpatient_med_types": INPATIENT_MED_TYPES,
            "mild_diagnoses": MILD_DIAGNOSES,
            "serious_recovered": SERIOUS_RECOVERED,
            "serious_actions": SERIOUS_ACTIONS,
            **hit_share_params(),
        }


# A bureau with no findings yet still gets features (and an empty inspection history).
OPTIONAL_TABLES = ("inspections",)
SOURCE_VIEWS = {  # view name → contract table
    "src_visit": "mdtrt_d",
    "src_setl": "setl_d",
    "src_fee": "fee_list_d",
    "fixmedins": "fixmedins",
    "dr_info": "dr_info",
    "catalog": "catalog",
    "src_insp": "inspections",
}


def table_folder(workspace: Path, table: str) -> Path:
    """The folder of one raw table, or an error naming it when the workspace lacks it."""
    folder = Workspace(workspace).table(table)
    if not folder.is_dir() or not any(folder.rglob("*.parquet")):
        raise MissingWorkspaceTableError(
            f"workspace {workspace} has no table {table!r} (expected {folder}/**/*.parquet); "
            "run `feijian ingest SRC_DIR` first"
        )
    return folder


def month_bounds(win: Window) -> tuple[str, str]:
    """The first and last month partitions (YYYY-MM) the source views read: [prev_start, as_of)."""
    return win.prev_start.strftime("%Y-%m"), (win.as_of - relativedelta(days=1)).strftime("%Y-%m")


def source_tables(con: Any, ws: Workspace) -> Iterator[tuple[str, str, Table]]:
    """(view, table, contract) of each source view an engine reads from the workspace; an optional
    table the workspace lacks becomes a view of no rows here instead."""
    for view, table in SOURCE_VIEWS.items():
        if table in OPTIONAL_TABLES and not any(ws.table(table).rglob("*.parquet")):
            con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {empty_select(TABLES[table])}")
            continue
        yield view, table, TABLES[table]


def require_columns(table: str, present: Iterable[str]) -> None:
    """MissingColumnError naming the contract's required columns a workspace table lacks."""
    have = set(present)
    missing = [c for c in TABLES[table].required_columns if c not in have]
    if missing:
        raise MissingColumnError(
            f"workspace table {table!r} lacks column(s) {', '.join(missing)} required by the contract "
            f"(features/schema.py); re-ingest the export"
        )


def fac_tier_sql() -> str:
    """Facilities open before $as_of with their tier and peer group (shared by both engines)."""
    return f"""CREATE OR REPLACE TEMP TABLE fac_tier AS
        SELECT f.fixmedins_code, f.fixmedins_type, f.hosp_lv, t.tier AS hosp_tier, f.ownership, f.admdvs,
               f.fixmedins_type || '|' || CAST(t.tier AS VARCHAR) AS peer_group
        FROM fixmedins AS f JOIN ({values(HOSP_TIER.items())}) AS t(lv, tier) ON t.lv = f.hosp_lv
        WHERE f.begndate < $as_of"""


def empty_select(spec: Table) -> str:
    """A typed, empty SELECT with the contract's columns: an absent optional table reads as no rows."""
    cols = ", ".join(f"CAST(NULL AS {SQL_TYPES[c.type]}) AS {c.name}" for c in spec.columns)
    return f"SELECT {cols} WHERE 1 = 0"
