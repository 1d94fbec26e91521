"""The quarantine: every rejected row and file, where it came from and why, per run.

`<ws>/quarantine/<run_id>/<table>.parquet` (and a `.csv` copy a person can open in Excel) has one
row per rejected source row: run_id, table, file, row (CSV line number, or Parquet row index; 0 for
a whole file), field, value, reason, then the row's own values as text. The quarantine sits inside
the workspace, so personal identifiers in it are pseudonymised like everywhere else, and a malformed
CSV line of a table with identifiers is kept only as its number, reason and keyed hash (its fields may
have shifted, a certno into any column). The folder is 0700 and its files 0600.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow as pa

from features.ingest.report import IngestReport
from features.ingest.sources import TableSource
from features.ingest.write import write_quarantine
from features.schema import TABLES, Table
from features.sql_text import ident, literal

PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600
META = ("run_id", "table", "file", "row", "field", "value", "reason")


def _python_rows(table: Table | None, run_id: str, records: list[dict[str, object]]) -> pa.Table:
    """Whole files and malformed CSV lines: no cells (a shifted line's fields may be anything)."""
    cols = [c.name for c in table.columns] if table else []
    data: dict[str, list[object]] = {m: [] for m in META} | {c: [None] * len(records) for c in cols}
    for r in records:
        row = {"run_id": run_id, "table": table.name if table else r.get("table"), "file": r["file"],
               "row": r.get("row"), "field": r.get("field"), "value": r.get("value"), "reason": r["reason"]}
        for m in META:
            data[m].append(row[m])
    schema = pa.schema([(m, pa.int64() if m == "row" else pa.string()) for m in META]
                       + [(c, pa.string()) for c in cols])
    return pa.table(data, schema=schema)


def _sql_rows(table: Table, run_id: str) -> str:
    cols, joins = [], []
    value = "r._value"
    for i, c in enumerate(table.columns):
        if c.pseudonymise:
            joins.append(f"LEFT JOIN psn_map m{i} ON r.{ident(c.name)} = m{i}.raw")
            hashed = f"CASE WHEN r._hashed THEN r.{ident(c.name)} ELSE m{i}.pseudonym END"
            cols.append(f"{hashed} AS {ident(c.name)}")
            value = f"CASE WHEN r._field = {literal(c.name)} THEN {hashed} ELSE {value} END"
        else:
            cols.append(f"r.{ident(c.name)}")
    return (f"SELECT {literal(run_id)} AS run_id, {literal(table.name)} AS \"table\", f.path AS file, r._row AS row, "
            f"r._field AS field, {value} AS value, r._reason AS reason, {', '.join(cols)} "
            f"FROM rej_{table.name} r LEFT JOIN src_files f ON f.fid = r._fid {' '.join(joins)}")


def quarantine_tables(con: duckdb.DuckDBPyConnection, report: IngestReport, sources: dict[str, TableSource],
                      unknown: list[tuple[Path, str]], qdir: Path) -> list[str]:
    """Write the quarantine of this run; returns the Parquet files written."""
    written: list[str] = []
    qdir.parent.mkdir(parents=True, exist_ok=True)
    qdir.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    os.chmod(qdir, PRIVATE_DIR)
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
                         "value": r["_value"], "reason": r["_reason"]} for r in ts.pre_rejects]
        if ts is None and not records:
            continue
        con.register("q_py", _python_rows(table, report.run_id, records))
        parts = ["SELECT * FROM q_py"]
        if ts is not None and rep.rejected_rows:
            parts.append(_sql_rows(table, report.run_id))
        con.execute(f"CREATE OR REPLACE TEMP TABLE q_{name} AS {' UNION ALL BY NAME '.join(parts)}")
        con.unregister("q_py")
        if con.sql(f"SELECT count(*) FROM q_{name}").fetchall()[0][0]:
            written.append(str(write_quarantine(con, f"q_{name}", qdir, name)))
    if unknown:
        con.register("q_py", _python_rows(None, report.run_id, [
            {"file": str(p), "row": 0, "table": p.stem, "reason": r} for p, r in unknown]))
        con.execute("CREATE OR REPLACE TEMP TABLE q__unknown AS SELECT * FROM q_py")
        con.unregister("q_py")
        written.append(str(write_quarantine(con, "q__unknown", qdir, "_unknown")))
    for p in qdir.iterdir():  # the folder is private already; the files are too, should they be moved
        os.chmod(p, PRIVATE_FILE)
    if not written:
        qdir.rmdir()
    return written
