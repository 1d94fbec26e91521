"""Arrow schemas from features.schema and deterministic, zstd-compressed Parquet parts.

Big tables are written one part per month on a background thread, so numpy generation of the
next month overlaps compression of this one (pyarrow releases the GIL while it writes).
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from features.schema import TABLES

_ARROW = {"string": pa.string(), "code": pa.string(), "int": pa.int64(), "float": pa.float64(),
          "date": pa.date32(), "timestamp": pa.timestamp("s"), "bool": pa.bool_()}
# High-cardinality identifiers compress no better with a dictionary and cost time to encode.
_NO_DICT = {"feedetl_sn", "mdtrt_id", "setl_id", "trace_code", "certno", "psn_no", "fee_ocur_time", "begntime",
            "endtime", "setl_time"}


def arrow_schema(table: str) -> pa.Schema:
    t = TABLES[table]
    return pa.schema([pa.field(c.name, _ARROW[c.type], nullable=c.nullable or not c.required) for c in t.columns])


def to_table(table: str, cols: dict) -> pa.Table:
    """Columns (numpy or Arrow) → a table with exactly the contract's columns and types.

    A dictionary-encoded string column stays dictionary-encoded (it is written as its indices; the
    file's readers see plain strings, see `write`).
    """
    schema = arrow_schema(table)
    arrays = []
    for i, f in enumerate(schema):
        x = cols[f.name]
        if isinstance(x, pa.DictionaryArray) and x.type.value_type == f.type:
            schema = schema.set(i, f.with_type(x.type))
            arrays.append(x)
        elif isinstance(x, pa.Array | pa.ChunkedArray):
            arrays.append(x.cast(f.type) if x.type != f.type else x)
        elif f.type == pa.timestamp("s"):
            arrays.append(pa.array(np.asarray(x, dtype=np.int64).view("datetime64[s]"), type=f.type))
        elif f.type == pa.date32():
            arrays.append(pa.array(np.asarray(x, dtype=np.int32), type=pa.int32()).view(pa.date32()))
        else:
            arrays.append(pa.array(x, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def write(path: Path, tbl: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = [c for c in tbl.column_names if c not in _NO_DICT]
    # Min/max statistics only on numbers and times: on string columns they were ~30 % of the write
    # (one month of fee lines, 0.79 → 0.53 CPU-s) and nothing prunes row groups by an identifier.
    # store_schema=False: no Arrow schema in the file, so pyarrow and pandas read dictionary-encoded
    # columns back as plain strings, like every other reader.
    stats = [f.name for f in tbl.schema if not (pa.types.is_string(f.type) or pa.types.is_dictionary(f.type))]
    pq.write_table(tbl, path, compression="zstd", use_dictionary=cols, row_group_size=1 << 20,
                   write_statistics=stats, store_schema=False)


class BackgroundWriter:
    """One writer thread; `put` blocks when two tables are already waiting (bounded memory)."""

    def __init__(self) -> None:
        self.q: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self) -> None:
        while True:
            job = self.q.get()
            if job is None:
                self.q.task_done()
                return
            try:
                write(*job)
            except BaseException as exc:  # surfaced in put(), flush() or close()
                self.error = exc
            finally:
                self.q.task_done()

    def put(self, path: Path, tbl: pa.Table) -> None:
        if self.error:
            raise self.error
        self.q.put((path, tbl))

    def flush(self) -> None:
        """Wait until every table put so far is on disk."""
        self.q.join()
        if self.error:
            raise self.error

    def close(self) -> None:
        self.q.put(None)
        self.t.join()
        if self.error:
            raise self.error
