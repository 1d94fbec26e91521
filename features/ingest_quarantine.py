"""The quarantine: every rejected row and file, where it came from and why, per run.

`<ws>/quarantine/<run_id>/<table>.parquet` (and a `.csv` copy a person can open in Excel) has one
row per rejected source row: run_id, table, file, row (CSV line number, or Parquet row index; 0 for
a whole file), field, value, reason, then the row's own values as text. The quarantine sits inside
the workspace, so personal identifiers in it are pseudonymised like everywhere else.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from features.ingest_report import IngestReport
from features.ingest_sources import TableSource
from features.ingest_write import write_quarantine
from features.pseudonym import pseudonymise
from features.schema import TABLES, Table
from features.validate import qi, sq

META = ("run_id", "table", "file", "row", "field", "value", "reason")


def _python_rows(table: Table | None, run_id: str, records: list[dict[str, object]], key: bytes) -> pa.Table:
    cols = [c.name for c in table.columns] if table else []
    secret = {c.name for c in table.columns if c.pseudonymise} if table else set()
    data: dict[str, list[object]] = {m: [] for m in META} | {c: [] for c in cols}
    for r in records:
        cells = dict(r.get("cells") or {})
        value = r.get("value")
        for c in secret:
            if cells.get(c):
                hashed = pseudonymise([str(cells[c])], key)[0]
                if isinstance(value, str):
                    value = value.replace(str(cells[c]), hashed)
                cells[c] = hashed
        row = {"run_id": run_id, "table": table.name if table else r.get("table"), "file": r["file"],
               "row": r.get("row"), "field": r.get("field"), "value": value, "reason": r["reason"]}
        for m in META:
            data[m].append(row[m])
        for c in cols:
            data[c].append(None if cells.get(c) is None else str(cells[c]))
    schema = pa.schema([(m, pa.int64() if m == "row" else pa.string()) for m in META]
                       + [(c, pa.string()) for c in cols])
    return pa.table(data, schema=schema)


def _sql_rows(table: Table, run_id: str) -> str:
    cols, joins = [], []
    value = "r._value"
    for i, c in enumerate(table.columns):
        if c.pseudonymise:
            joins.append(f"LEFT JOIN psn_map m{i} ON r.{qi(c.name)} = m{i}.raw")
            cols.append(f"m{i}.pseudonym AS {qi(c.name)}")
            value = f"CASE WHEN r._field = {sq(c.name)} THEN m{i}.pseudonym ELSE {value} END"
        else:
            cols.append(f"r.{qi(c.name)}")
    return (f"SELECT {sq(run_id)} AS run_id, {sq(table.name)} AS \"table\", f.path AS file, r._row AS row, "
            f"r._field AS field, {value} AS value, r._reason AS reason, {', '.join(cols)} "
            f"FROM rej_{table.name} r LEFT JOIN src_files f ON f.fid = r._fid {' '.join(joins)}")


def quarantine_tables(con: duckdb.DuckDBPyConnection, report: IngestReport, sources: dict[str, TableSource],
                      unknown: list[tuple[Path, str]], key: bytes, qdir: Path) -> list[str]:
    """Write the quarantine of this run; returns the Parquet files written."""
    written: list[str] = []
    paths = dict(con.sql("SELECT fid, path FROM src_files").fetchall())
    for name, rep in report.tables.items():
        table = TABLES[name]
        sizes = {f["file"]: f["bytes"] for f in rep.files_not_read}
        records: list[dict[str, object]] = [
            {"file": path, "row": 0, "field": None, "value": None,
             "reason": f"file not read ({sizes[path]:,} bytes): {issue}" if path in sizes else issue}
            for path, issue in rep.file_issues if path in sizes or issue.startswith("empty file")
        ]
        ts = sources.get(name)
        if ts is not None:
            records += [{"file": paths.get(int(str(r["_fid"]))), "row": r["_row"], "field": r["_field"],
                         "value": r["_value"], "reason": r["_reason"], "cells": r["_cells"]} for r in ts.pre_rejects]
        if ts is None and not records:
            continue
        con.register("q_py", _python_rows(table, report.run_id, records, key))
        parts = ["SELECT * FROM q_py"]
        if ts is not None and rep.rejected_rows:
            parts.append(_sql_rows(table, report.run_id))
        con.execute(f"CREATE OR REPLACE TEMP TABLE q_{name} AS {' UNION ALL BY NAME '.join(parts)}")
        con.unregister("q_py")
        if con.sql(f"SELECT count(*) FROM q_{name}").fetchall()[0][0]:
            written.append(str(write_quarantine(con, f"q_{name}", qdir, name)))
    if unknown:
        con.register("q_py", _python_rows(None, report.run_id, [
            {"file": str(p), "row": 0, "table": p.stem, "reason": r} for p, r in unknown], key))
        con.execute("CREATE OR REPLACE TEMP TABLE q__unknown AS SELECT * FROM q_py")
        con.unregister("q_py")
        written.append(str(write_quarantine(con, "q__unknown", qdir, "_unknown")))
    return written
