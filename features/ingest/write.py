"""Write the workspace atomically: a new version directory, then one symlink swap.

`<ws>/raw` is a symlink to `<ws>/data/v-N`. A run writes `data/v-N+1` completely (tables it did not
touch are hard-linked from v-N), then replaces the symlink with `os.replace`, which is atomic on
POSIX. A run killed at any point before the swap leaves `raw` pointing at the old, complete
version; the half-written directory is removed by the next run. Readers keep using
`read_parquet('<ws>/raw/<table>/**/*.parquet', hive_partitioning = true)` unchanged.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads

from features.schema import SQL_TYPES, TABLES, Table
from features.sql_text import ident, literal
from feijian.tabular import write_csv

KEEP_VERSIONS = 2  # the current one and the one before, for a manual rollback
ROW_GROUP_ROWS = 1 << 20  # rows per Parquet row group in the workspace
# Rows per Arrow batch streamed from DuckDB to the writer. Batches in flight are most of the write's
# memory: 512 Ki rows gives a lower peak than 1 Mi at the same speed; 256 Ki lowers it further but
# costs time (figures for the large province in docs/benchmarks.md, "Ingest").
BATCH_ROWS = 1 << 19
# zstd level 1 and no dictionary on per-row identifiers: less CPU than level 3 with dictionaries, for
# somewhat larger files that DuckDB reads back as fast; snappy costs less CPU still but doubles the
# size (figures in docs/benchmarks.md, "Ingest").
ZSTD_LEVEL = 1
_VERSION = re.compile(r"^v-(\d+)$")
_PER_ROW_IDS = {"trace_code"}  # drug trace codes: one per box sold


def data_dir(ws: Path) -> Path:
    return ws / "data"


def current_version(ws: Path) -> Path | None:
    raw = ws / "raw"
    return raw.resolve() if raw.is_symlink() else None


def adopt_plain_raw(ws: Path) -> None:
    """A workspace whose raw/ is a plain folder (written by hand or an old version) becomes data/v-0."""
    raw = ws / "raw"
    if raw.is_dir() and not raw.is_symlink():
        data_dir(ws).mkdir(parents=True, exist_ok=True)
        target = data_dir(ws) / "v-0"
        os.replace(raw, target)
        os.symlink(os.path.join("data", "v-0"), raw)


def new_version_dir(ws: Path) -> Path:
    data_dir(ws).mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in data_dir(ws).iterdir() if (m := _VERSION.match(p.name))]
    path = data_dir(ws) / f"v-{max(numbers, default=0) + 1}"
    path.mkdir()
    return path


def table_files(version: Path | None, table: str) -> list[Path]:
    if version is None or not (version / table).is_dir():
        return []
    return sorted((version / table).rglob("*.parquet"))


def old_table_sql(version: Path | None, table: Table) -> str | None:
    """SELECT the contract columns of a table in the current workspace version, or None."""
    if not table_files(version, table.name):
        return None
    assert version is not None
    glob = literal(str(version / table.name / "**" / "*.parquet"))
    cols = ", ".join(f"CAST({ident(c.name)} AS {SQL_TYPES[c.type]}) AS {ident(c.name)}" for c in table.columns)
    return f"SELECT {cols} FROM read_parquet({glob}, hive_partitioning = true, union_by_name = true)"


def link_table(old: Path | None, new: Path, table: str) -> None:
    """Carry a table the export did not include into the new version (hard links, else copies)."""
    for f in table_files(old, table):
        assert old is not None
        dest = new / f.relative_to(old)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(f, dest)
        except OSError:
            shutil.copy2(f, dest)


def dictionary_columns(table: Table) -> list[str]:
    """Columns worth a Parquet dictionary: codes and references to small tables.

    Per-row identifiers (an event table's key, references to another event table's key, pseudonyms,
    trace codes) and times almost never repeat within a row group, so trying a dictionary first only
    costs time before the writer falls back to plain encoding.
    """
    event_keys = {(t.name, k) for t in TABLES.values() if t.kind == "event" for k in t.key}
    out = []
    for c in table.columns:
        per_row = ((table.kind == "event" and c.name in table.key) or c.pseudonymise or c.type == "timestamp"
                   or (c.references is not None and c.references in event_keys) or c.name in _PER_ROW_IDS)
        if not per_row:
            out.append(c.name)
    return out


def write_table(con: duckdb.DuckDBPyConnection, table: Table, rows_sql: str, out: Path) -> int:
    """Write rows to out/<table>/ (month=YYYY-MM/ partitions for event tables); returns rows written.

    Event tables stream from DuckDB as Arrow batches into pyarrow's multi-threaded dataset writer:
    DuckDB's own `COPY ... PARTITION_BY` flushes small row groups per partition, which makes it 2-4x
    slower than a plain COPY of the same rows, most of an ingest's time at 10 M fee lines.
    """
    target = out / table.name
    cols = ", ".join(ident(c.name) for c in table.columns)
    if table.time_column is None:
        n = con.sql(f"SELECT count(*) FROM ({rows_sql})").fetchall()[0][0]
        target.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY (SELECT {cols} FROM ({rows_sql})) TO $path "
                    f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_ROWS})",
                    {"path": str(target / "part-0.parquet")})
        return int(n)
    reader = con.sql(f"SELECT {cols}, strftime({ident(table.time_column)}, '%Y-%m') AS month "
                     f"FROM ({rows_sql})").to_arrow_reader(BATCH_ROWS)
    written = 0

    def counted() -> Iterator[pa.RecordBatch]:
        nonlocal written
        for batch in reader:
            written += batch.num_rows
            yield batch

    fmt = pads.ParquetFileFormat()
    pads.write_dataset(
        pa.RecordBatchReader.from_batches(reader.schema, counted()), target, format=fmt,
        partitioning=pads.partitioning(pa.schema([("month", pa.string())]), flavor="hive"),
        basename_template="part-{i}.parquet", existing_data_behavior="overwrite_or_ignore",
        file_options=fmt.make_write_options(compression="zstd", compression_level=ZSTD_LEVEL,
                                            use_dictionary=dictionary_columns(table)),
        min_rows_per_group=ROW_GROUP_ROWS // 8, max_rows_per_group=ROW_GROUP_ROWS, use_threads=True)
    if written == 0:  # keep the table readable by the glob even when empty
        target.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY (SELECT {cols} FROM ({rows_sql}) LIMIT 0) TO $path (FORMAT parquet)",
                    {"path": str(target / "part-0.parquet")})
    return written


def swap(ws: Path, new: Path) -> None:
    """Point <ws>/raw at the new version in one atomic rename."""
    tmp = ws / ".raw.swap"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(os.path.relpath(new, ws), tmp)
    os.replace(tmp, ws / "raw")


def clean_versions(ws: Path, keep: int = KEEP_VERSIONS) -> None:
    """Remove versions beyond the newest `keep` (and any half-written one left by a killed run)."""
    if not data_dir(ws).is_dir():
        return
    current = current_version(ws)
    versions = sorted((int(m.group(1)), p) for p in data_dir(ws).iterdir() if (m := _VERSION.match(p.name)))
    if current is None:
        return
    cur_n = int(_VERSION.match(current.name).group(1))  # type: ignore[union-attr]
    for n, p in versions:
        if n > cur_n or n <= cur_n - keep:
            shutil.rmtree(p, ignore_errors=True)


def write_json_atomic(path: Path, payload: dict[str, object]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def write_quarantine(con: duckdb.DuckDBPyConnection, relation: str, qdir: Path, name: str) -> Path:
    """Write a quarantine relation as Parquet and a CSV copy for Excel (feijian.tabular: BOM, formulas neutralised)."""
    qdir.mkdir(parents=True, exist_ok=True)
    pq_path = qdir / f"{name}.parquet"
    con.execute(f"COPY (SELECT * FROM {relation} ORDER BY file, row) TO $path (FORMAT parquet)", {"path": str(pq_path)})
    write_csv(con.sql(f"SELECT * FROM {relation} ORDER BY file, row").to_arrow_reader(), qdir / f"{name}.csv")
    return pq_path
