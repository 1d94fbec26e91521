"""Open a DuckDB connection on the workspace with point-in-time views over [window_start, as_of).

The rules and the feature SQL read the same six views: `fee_list_d`, `mdtrt_d`, `setl_d` restricted
to the window, and the reference tables `fixmedins`, `dr_info`, `catalog` in full. Doing the
restriction once, here, is what makes "nothing dated on or after as_of is read" true by
construction: no query downstream sees a later row.

Window semantics: a claim is known at as_of when its visit ended before as_of.
- mdtrt_d:    window_start <= begntime and endtime < as_of (a stay still open at as_of is unknown)
- fee_list_d: window_start <= fee_ocur_time, lines of those visits only
- setl_d:     window_start <= setl_time < as_of, settlements of those visits only
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from feijian.errors import InputError, NotReadyError


def parse_date(value: str | dt.date, flag: str = "as_of") -> dt.date:
    """The one parser for planning dates, used by the CLI and the library alike."""
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{flag} must be a date YYYY-MM-DD (e.g. 2025-01-01), got {value!r}") from None


def latest_as_of(con: duckdb.DuckDBPyConnection, workspace: Path) -> dt.date:
    """The day after the last fee line: the default as_of, so a window ends with the data."""
    from features.snapshot.build import source_expr

    row = con.execute(f"SELECT CAST(MAX(fee_ocur_time) AS DATE) FROM {source_expr(workspace, 'fee_list_d')}").fetchone()
    if row is None or row[0] is None:
        raise NotReadyError(f"workspace {workspace}: fee_list_d is empty; nothing to evaluate")
    return row[0] + dt.timedelta(days=1)


def open_window(
    workspace: Path,
    as_of: str | dt.date | None,
    window_months: int,
    con: duckdb.DuckDBPyConnection | None = None,
) -> duckdb.DuckDBPyConnection:
    """A connection with the point-in-time views; as_of None means "after the latest fee line".

    The views are the feature build's own (features.snapshot.build.create_sources + staging), so rule
    measurement and feature snapshots see exactly the same window.
    """
    from features.snapshot.build import Window, create_sources, read_sql
    from features.sql_text import run
    from feijian.settings import Workspace

    con = con or duckdb.connect()
    end = parse_date(as_of) if as_of is not None else latest_as_of(con, workspace)
    win = Window(end, window_months)
    create_sources(con, Workspace(workspace), win)
    run(con, read_sql("staging"), win.params())
    con.execute(
        "CREATE OR REPLACE TABLE window_bounds AS SELECT $window_start AS window_start, $as_of AS as_of",
        {"window_start": win.start, "as_of": end},
    )
    return con
