"""Find an export's files, check each one, and describe the rows as one SQL relation per table.

A table is `SRC/<table>/` (any CSV/Parquet files below it) or `SRC/<table>.csv|.parquet`. File-level
problems (empty, unreadable, wrong encoding, a missing or duplicated column, a Parquet type the contract
cannot take: columns) are found here, before any row is validated, so the user hears about a
whole file once rather than a million times.

Parquet is read in place by DuckDB (`file_index`, `file_row_number` give where each row came from).
CSV is streamed once through Arrow into a text-only staging Parquet, identifiers already hashed
(csv). Every row carries `_fid` (file id), `_row` (CSV line / Parquet row index), `_file_err`
(a file-level reason that rejects every row of that file, or a CSV line's own, e.g. cut short) and
`_hashed` (its identifier columns hold pseudonyms already).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from features.ingest.adapters.config import Adapter, TableAdapter
from features.ingest.columns import TEXT, file_issue, parquet_types, union_types
from features.ingest.csv import stage_csv
from features.ingest.pseudonym import Pseudonymiser
from features.schema import TABLES, Table
from features.sql_text import ident, list_literal, literal
from feijian.errors import ConfigError

DATA_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class SourceFile:
    fid: int
    path: Path
    fmt: str  # csv | parquet
    rows: int = 0  # rows that reached validation (CSV: parsed rows incl. malformed ones)
    issue: str | None = None  # file-level reason
    fatal: bool = False  # the file contributes no rows (unreadable, empty)
    columns: list[str] = field(default_factory=list)  # export column names
    types: dict[str, str] = field(default_factory=dict)  # Parquet: DuckDB type per export column
    issue_field: str | None = None  # the contract column a non-fatal file issue is about
    row_errs: dict[int, tuple[str, str]] = field(default_factory=dict)  # CSV line -> (export column, reason)
    size: int = 0  # bytes on disk
    empty: bool = False  # fatal, but read: a header-only CSV or a Parquet file of no rows lost nothing

    @property
    def not_read(self) -> bool:
        """Rows may have been lost: the file exists but could not be read."""
        return self.fatal and not self.empty


@dataclass
class TableSource:
    table: Table
    files: list[SourceFile]
    sql: str | None  # SELECT _fid, _row, _file_err, <contract columns> ... ; None when no readable file
    pre_rejects: list[dict[str, object]] = field(default_factory=list)  # malformed CSV rows
    notes: list[str] = field(default_factory=list)


@dataclass
class Discovery:
    tables: dict[str, list[Path]]
    unknown: list[tuple[Path, str]]  # (path, reason)
    ignored: list[Path]


def _data_files(folder: Path) -> tuple[list[Path], list[Path]]:
    files, ignored = [], []
    for p in sorted(folder.rglob("*")):
        if p.is_dir() or any(part.startswith((".", "_")) for part in p.relative_to(folder).parts):
            continue
        (files if p.suffix.lower() in DATA_SUFFIXES else ignored).append(p)
    return files, ignored


def discover(src: Path, adapter: Adapter) -> Discovery:
    """Map the export's files to contract tables; anything else is an unknown table."""
    names = adapter.source_names()
    tables: dict[str, list[Path]] = {}
    unknown: list[tuple[Path, str]] = []
    ignored: list[Path] = []
    listed = ", ".join(TABLES)
    for entry in sorted(src.iterdir()):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_file() and entry.suffix.lower() not in DATA_SUFFIXES:
            ignored.append(entry)
            continue
        stem = entry.name if entry.is_dir() else entry.stem
        table = names.get(stem.lower())
        if table is None:
            unknown.append((entry, f"unknown table {stem!r}: the contract has {listed}; rename it or map it "
                                   "with an adapter (tables.<name>.source)"))
            continue
        if entry.is_dir():
            files, skipped = _data_files(entry)
            ignored.extend(skipped)
        else:
            files = [entry]
        tables.setdefault(table, []).extend(files)
    return Discovery(tables=tables, unknown=unknown, ignored=ignored)


def _probe_parquet(f: SourceFile) -> None:
    try:
        meta = pq.ParquetFile(f.path).metadata
    except Exception as exc:  # pyarrow raises several types for a damaged file
        f.issue, f.fatal = (f"cannot read Parquet file (truncated or not Parquet): {exc}; re-export the file", True)
        return
    f.rows = meta.num_rows
    f.columns = list(meta.schema.names)
    if f.rows == 0:
        f.issue, f.fatal, f.empty = "empty file (no rows)", True, True


def _row_errors(table: Table, ta: TableAdapter, files: list[SourceFile]) -> tuple[str, str]:
    """CASE branches giving single CSV lines a reason of their own (a last line cut short)."""
    by_export = {ta.export_column(c.name): c.name for c in table.columns}
    errs, fields = [], []
    for f in files:
        for line, (column, reason) in f.row_errs.items():
            cond = f"WHEN _fid = {f.fid} AND _row = {line}"
            errs.append(f"{cond} THEN {literal(f'line {line}: {reason}')}")
            fields.append(f"{cond} THEN {literal(by_export[column]) if column in by_export else 'NULL'}")
    return " ".join(errs), " ".join(fields)


def _select(table: Table, ta: TableAdapter, f: SourceFile, typed: dict[str, str], reader: str, fid_expr: str,
            row_expr: str, hashed: bool, row_errs: tuple[str, str] = ("", "")) -> str:
    """One group's rows as the contract columns, each of the table-wide type `typed` (see columns).

    `hashed`: the identifier columns already hold pseudonyms (staged CSV); Parquet is read raw and
    pseudonymised when it is written.
    """
    present = set(f.columns)
    file_err = f"{literal(f.issue) if f.issue else 'NULL'}::VARCHAR"
    err_field = f"{literal(f.issue_field) if f.issue and f.issue_field else 'NULL'}::VARCHAR"
    if row_errs[0]:
        file_err, err_field = (f"CASE {row_errs[0]} ELSE {file_err} END",
                               f"CASE {row_errs[1]} ELSE {err_field} END")
    cols = [f"{fid_expr} AS _fid", f"{row_expr} AS _row", f"{file_err} AS _file_err",
            f"{err_field} AS _file_err_field", f"{'true' if hashed else 'false'} AS _hashed"]
    for c in table.columns:
        src, want = ta.export_column(c.name), typed[c.name]
        if c.name in ta.derive:  # a value the expression cannot compute is empty, and validation says so
            cols.append(f"CAST(TRY({ta.derive[c.name]}) AS VARCHAR) AS {ident(c.name)}")
        elif src in present and f.issue_field != c.name:
            ref = ident(src)
            cols.append(f"{ref if f.types.get(src, TEXT) == want else f'CAST({ref} AS {want})'} AS {ident(c.name)}")
        elif c.name in ta.defaults and src not in present:
            cols.append(f"{literal(ta.defaults[c.name])} AS {ident(c.name)}")
        elif c.default is not None and src not in present:
            cols.append(f"{literal(c.default)}::{want} AS {ident(c.name)}")
        else:
            cols.append(f"NULL::{want} AS {ident(c.name)}")
    return f"SELECT {', '.join(cols)} FROM {reader}"


def prepare(table: Table, paths: list[Path], ta: TableAdapter, encoding: str, staging: Path,
            first_fid: int, hasher: Pseudonymiser, sample_rows: int | None = None) -> TableSource:
    """Check each file of one table and build the SQL that reads all its rows.

    File ids are taken from [first_fid, first_fid + 2 * len(paths)). CSV files are staged with their
    identifier columns pseudonymised by `hasher`. `sample_rows`: read only about that many rows of each
    file (a dry run's sample).
    """
    secret = {ta.export_column(c.name) for c in table.columns if c.pseudonymise}
    files = [SourceFile(first_fid + i, p, DATA_SUFFIXES[p.suffix.lower()], size=p.stat().st_size)
             for i, p in enumerate(paths)]
    src = TableSource(table=table, files=files, sql=None)
    groups: dict[tuple[object, ...], list[SourceFile]] = {}
    staged: dict[tuple[object, ...], list[tuple[SourceFile, Path]]] = {}
    con = duckdb.connect()
    for f in files:
        if f.fmt == "parquet":
            _probe_parquet(f)
            if not f.fatal:
                f.types = parquet_types(con, str(f.path), f.columns)
        else:
            out = stage_csv(f, encoding, staging, src.pre_rejects, secret, hasher, max_rows=sample_rows)
        if f.fatal:
            continue
        found = file_issue(table, ta, f.columns, f.types if f.fmt == "parquet" else None)
        if found:
            f.issue_field, f.issue = found
        key = (tuple(f.columns), tuple(f.types.items()), f.issue, f.issue_field)
        if f.fmt == "parquet":
            groups.setdefault(key, []).append(f)
        elif out is not None:
            staged.setdefault(key, []).append((f, out))
    readable = [f for f in files if not f.fatal]
    typed = union_types(table, ta, [(f.columns, f.types, f.issue_field) for f in readable])
    selects: list[str] = []
    checked_readers: list[tuple[SourceFile, str]] = []  # one file per group: the adapter's expressions bind
    next_fid = first_fid + len(files)  # Parquet groups get contiguous ids: _fid = base + file_index
    for group in groups.values():
        base = next_fid
        for i, f in enumerate(group):
            f.fid = base + i
        next_fid += len(group)
        listing = list_literal(f.path for f in group)
        reader = f"read_parquet({listing}, file_row_number = true)"
        if sample_rows is not None:
            reader = f"(SELECT *, file_index FROM {reader} LIMIT {int(sample_rows) * len(group)})"
        checked_readers.append((group[0], f"read_parquet({literal(str(group[0].path))})"))
        selects.append(_select(table, ta, group[0], typed, reader, f"({base} + file_index)::BIGINT",
                               "file_row_number::BIGINT", hashed=False))
    for group2 in staged.values():
        listing = list_literal(p for _, p in group2)
        checked_readers.append((group2[0][0], f"read_parquet({literal(str(group2[0][1]))})"))
        selects.append(_select(table, ta, group2[0][0], typed, f"read_parquet({listing})", "_fid", "_row",
                               hashed=True, row_errs=_row_errors(table, ta, [f for f, _ in group2])))
    for f, reader in checked_readers:
        check_derived(con, table, ta, f, reader, secret)
    con.close()
    if selects:
        src.sql = "\nUNION ALL BY NAME\n".join(selects)
    extra = sorted({c for f in files for c in f.columns} - {ta.export_column(c) for c in table.column_names})
    if extra:
        src.notes.append(f"{table.name}: columns not in the contract were ignored: {', '.join(extra[:12])}")
    return src


def check_derived(con: duckdb.DuckDBPyConnection, table: Table, ta: TableAdapter, f: SourceFile, reader: str,
                  secret: set[str]) -> None:
    """Each `derive` expression binds over this file's columns (personal identifiers left out): a
    ConfigError naming the table, the column, the expression and the file otherwise."""
    if not ta.derive:
        return
    allowed = [c for c in f.columns if c not in secret]
    inner = f"SELECT {', '.join(ident(c) for c in allowed) or 'NULL AS _none'} FROM {reader}"
    for col, expr in ta.derive.items():
        try:
            con.sql(f"DESCRIBE SELECT ({expr}) AS v FROM ({inner})").fetchall()
        except duckdb.Error as exc:
            used = sorted(c for c in secret if re.search(rf"(?<![\w]){re.escape(c)}(?![\w])", expr))
            why = (f"it reads {', '.join(used)}, a personal identifier, which is pseudonymised as it is read"
                   if used else str(exc).splitlines()[0])
            raise ConfigError(f"adapter: tables.{table.name}.derive.{col} = {expr!r} cannot be computed over "
                              f"{f.path.name} (its columns: {', '.join(allowed[:20])}): {why}") from None
