"""Find an export's files, check each one, and describe the rows as one SQL relation per table.

A table is `SRC/<table>/` (any CSV/Parquet files below it) or `SRC/<table>.csv|.parquet`. File-level
problems (empty, unreadable, wrong encoding, a missing or duplicated column, a Parquet type the contract
cannot take: ingest_columns) are found here, before any row is validated, so the user hears about a
whole file once rather than a million times.

Parquet is read in place by DuckDB (`file_index`, `file_row_number` give where each row came from).
CSV is streamed once through Arrow into a text-only staging Parquet: Arrow transcodes GBK, reports
rows with the wrong number of fields (a file cut mid-row) with their line numbers, and never guesses
a type, so '01' stays '01'. Every row carries `_fid` (file id), `_row` (CSV line / Parquet row index)
and `_file_err` (a file-level reason that rejects every row of that file).
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from features.adapters.config import Adapter, TableAdapter
from features.ingest_columns import TEXT, file_issue, parquet_types, union_types
from features.schema import TABLES, Table

DATA_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
SNIFF_BYTES = 1 << 20


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


def _sq(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _qi(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


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


def _check_encoding(path: Path, encoding: str) -> str | None:
    """Decode the first megabyte; a GBK file read as UTF-8 fails here with a useful message."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    try:
        codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError as exc:
        hint = " — it looks like GBK: rerun with --encoding gbk (or encoding = \"gbk\" in the adapter)" \
            if encoding.lower().replace("-", "") in ("utf8", "utf8sig") else ""
        return f"not valid {encoding} (byte 0x{head[exc.start]:02x} at offset {exc.start}){hint}"
    return None


def _stage_csv(f: SourceFile, encoding: str, staging: Path, pre_rejects: list[dict[str, object]]) -> Path | None:
    """Stream one CSV into a text-only Parquet with _fid/_row; None when the file is rejected whole."""
    if f.size == 0:
        f.issue, f.fatal = "0 bytes, not even a header line: the file may have been cut; re-export it", True
        return None
    problem = _check_encoding(f.path, encoding)
    if problem:
        f.issue, f.fatal = problem, True
        return None
    py_encoding = "utf-8-sig" if encoding.lower().replace("-", "") in ("utf8", "utf8sig") else encoding
    with f.path.open("r", encoding=py_encoding, newline="") as fh:
        header = next(csv.reader(io.StringIO(fh.readline())), [])
    header = [h.strip() for h in header]
    f.columns = header
    if not header or header == [""]:
        f.issue, f.fatal = "the first line is blank, expected the header line", True
        return None
    bad: list[tuple[int, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append((row.number or -1, row.text))
        return "skip"

    out = staging / f"csv-{f.fid}.parquet"
    types = {h: pa.string() for h in header}
    writer: pq.ParquetWriter | None = None
    line, bad_i = 2, 0
    try:
        reader = pacsv.open_csv(
            f.path,
            read_options=pacsv.ReadOptions(encoding=py_encoding if py_encoding != "utf-8-sig" else "utf8",
                                           column_names=header, skip_rows=1, use_threads=False,
                                           block_size=16 << 20),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False),
        )
        for batch in reader:
            rows = []
            for _ in range(batch.num_rows):  # line numbers of good rows skip the malformed ones
                while bad_i < len(bad) and bad[bad_i][0] == line:
                    bad_i, line = bad_i + 1, line + 1
                rows.append(line)
                line += 1
            tbl = pa.Table.from_batches([batch]).append_column("_row", pa.array(rows, pa.int64()))
            tbl = tbl.append_column("_fid", pa.array([f.fid] * batch.num_rows, pa.int64()))
            if writer is None:
                writer = pq.ParquetWriter(out, tbl.schema)
            writer.write_table(tbl)
            f.rows += batch.num_rows
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        if writer is not None:
            writer.close()
        out.unlink(missing_ok=True)
        f.rows = 0
        hint = "; if it is GBK, rerun with --encoding gbk" if "utf" in str(exc).lower() else ""
        f.issue, f.fatal = f"cannot parse CSV: {exc}{hint}", True
        return None
    if writer is not None:
        writer.close()
    for number, text in bad:
        values = next(csv.reader([text]), [])
        rec: dict[str, object] = {"_fid": f.fid, "_row": number, "_field": None, "_value": text,
                                  "_reason": f"line has {len(values)} fields, the header has {len(header)}: "
                                             "the file may be truncated or a value holds an unquoted comma"}
        rec["_cells"] = dict(zip(header, values, strict=False))
        pre_rejects.append(rec)
    f.rows += len(bad)
    if f.rows == 0:
        out.unlink(missing_ok=True)
        f.issue, f.fatal, f.empty = "empty file (header only, no rows)", True, True
        return None
    return out if writer is not None else None


def _select(table: Table, ta: TableAdapter, f: SourceFile, typed: dict[str, str], reader: str, fid_expr: str,
            row_expr: str) -> str:
    """One group's rows as the contract columns, each of the table-wide type `typed` (see ingest_columns)."""
    present = set(f.columns)
    cols = [f"{fid_expr} AS _fid", f"{row_expr} AS _row",
            f"{_sq(f.issue) if f.issue else 'NULL'}::VARCHAR AS _file_err",
            f"{_sq(f.issue_field) if f.issue and f.issue_field else 'NULL'}::VARCHAR AS _file_err_field"]
    for c in table.columns:
        src, want = ta.export_column(c.name), typed[c.name]
        if src in present and f.issue_field != c.name:
            ref = _qi(src)
            cols.append(f"{ref if f.types.get(src, TEXT) == want else f'CAST({ref} AS {want})'} AS {_qi(c.name)}")
        elif c.name in ta.defaults and src not in present:
            cols.append(f"{_sq(ta.defaults[c.name])} AS {_qi(c.name)}")
        else:
            cols.append(f"NULL::{want} AS {_qi(c.name)}")
    return f"SELECT {', '.join(cols)} FROM {reader}"


def prepare(table: Table, paths: list[Path], ta: TableAdapter, encoding: str, staging: Path,
            first_fid: int) -> TableSource:
    """Check each file of one table and build the SQL that reads all its rows.

    File ids are taken from [first_fid, first_fid + 2 * len(paths)).
    """
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
            out = _stage_csv(f, encoding, staging, src.pre_rejects)
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
    con.close()
    readable = [f for f in files if not f.fatal]
    typed = union_types(table, ta, [(f.columns, f.types, f.issue_field) for f in readable])
    selects: list[str] = []
    next_fid = first_fid + len(files)  # Parquet groups get contiguous ids: _fid = base + file_index
    for group in groups.values():
        base = next_fid
        for i, f in enumerate(group):
            f.fid = base + i
        next_fid += len(group)
        listing = "[" + ", ".join(_sq(str(f.path)) for f in group) + "]"
        reader = f"read_parquet({listing}, file_row_number = true)"
        selects.append(_select(table, ta, group[0], typed, reader, f"({base} + file_index)::BIGINT",
                               "file_row_number::BIGINT"))
    for group2 in staged.values():
        listing = "[" + ", ".join(_sq(str(p)) for _, p in group2) + "]"
        selects.append(_select(table, ta, group2[0][0], typed, f"read_parquet({listing})", "_fid", "_row"))
    if selects:
        src.sql = "\nUNION ALL BY NAME\n".join(selects)
    extra = sorted({c for f in files for c in f.columns} - {ta.export_column(c) for c in table.column_names})
    if extra:
        src.notes.append(f"{table.name}: columns not in the contract were ignored: {', '.join(extra[:12])}")
    return src
