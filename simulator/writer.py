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
    """Columns (numpy or Arrow) → a table with exactly the contract's columns and types."""
    schema = arrow_schema(table)
    arrays = []
    for f in schema:
        x = cols[f.name]
        if isinstance(x, pa.Array | pa.ChunkedArray):
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
    pq.write_table(tbl, path, compression="zstd", use_dictionary=cols, row_group_size=1 << 20,
                   write_statistics=True)


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
                return
            try:
                write(*job)
            except BaseException as exc:  # surfaced in close()
                self.error = exc

    def put(self, path: Path, tbl: pa.Table) -> None:
        if self.error:
            raise self.error
        self.q.put((path, tbl))

    def close(self) -> None:
        self.q.put(None)
        self.t.join()
        if self.error:
            raise self.error
