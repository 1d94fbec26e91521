"""Per-file column checks, before a table's files are read as one relation.

Every file of a table is checked on its own: a required column missing, a contract column named twice
in the header (which one holds the value?), or a Parquet column of a type the contract cannot take (a
date stored as BIGINT) is a file-level issue that rejects that file's rows with the file, the column
and the reason. Files whose types differ but are each allowed (`age` VARCHAR in one month, BIGINT in
the next) are read together by casting that column to text in every file, so the per-row checks
(validate.py) decide value by value and quarantine only the values that do not convert.
"""

from __future__ import annotations

from collections import Counter

import duckdb

from features.ingest.adapters.config import TableAdapter
from features.schema import Column, Table

TEXT = "VARCHAR"
INT_TYPES = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                       "UINTEGER", "UBIGINT", "UHUGEINT"})
# DuckDB type families each contract type accepts from Parquet (text is always accepted and parsed)
ACCEPTED = {
    "string": ("text", "int"),
    "code": ("text", "int"),
    "int": ("text", "int", "float"),
    "float": ("text", "int", "float"),
    "date": ("text", "date", "timestamp"),
    "timestamp": ("text", "timestamp", "date"),
    "bool": ("text", "bool"),
}
DECLARED = {"string": "text", "code": "a code (text)", "int": "an integer", "float": "a number",
            "date": "a date", "timestamp": "a timestamp", "bool": "a boolean"}


def family(duck_type: str) -> str:
    """text | int | float | date | timestamp | bool | null | other, for a DuckDB type name."""
    t = duck_type.upper()
    if t == TEXT:
        return "text"
    if t in INT_TYPES:
        return "int"
    if t in ("FLOAT", "DOUBLE") or t.startswith("DECIMAL"):
        return "float"
    if t == "DATE":
        return "date"
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    if t == "BOOLEAN":
        return "bool"
    if t in ("NULL", '"NULL"'):
        return "null"
    return "other"


def parquet_types(con: duckdb.DuckDBPyConnection, path: str, names: list[str]) -> dict[str, str]:
    """DuckDB's type of each column of one Parquet file (by the file's own names, in order)."""
    described = con.sql("DESCRIBE SELECT * FROM read_parquet($path)", params={"path": path}).fetchall()
    return {name: str(row[1]) for name, row in zip(names, described, strict=False)}


def _label(c: Column) -> str:
    return f"{c.name} ({c.label})"


def file_issue(table: Table, ta: TableAdapter, columns: list[str], types: dict[str, str] | None,
               ) -> tuple[str, str] | None:
    """(field, reason) when this file's rows cannot be read as the contract says, else None."""
    present = set(columns)
    missing = [c for c in table.columns if c.required and ta.export_column(c.name) not in present
               and c.name not in ta.defaults and c.name not in ta.derive]
    if missing:
        return missing[0].name, (f"missing column {', '.join(_label(m) for m in missing)}: add it to the export, "
                                 f"or map the export's name to it in an adapter (tables.{table.name}.columns)")
    counts = Counter(columns)
    for c in table.columns:
        src = ta.export_column(c.name)
        if c.name in ta.derive:
            continue
        if counts.get(src, 0) > 1:
            return c.name, (f"column {src!r} ({c.label}) appears {counts[src]} times in the header, so a row "
                            "cannot say which one holds the value: remove or rename the extra column")
    for c in table.columns:
        found = None if c.name in ta.derive else (types or {}).get(ta.export_column(c.name))
        if found is None or family(found) in ("null", *ACCEPTED[c.type]):
            continue
        return c.name, (f"column {_label(c)} is {found} in this file, but the contract declares "
                        f"{DECLARED[c.type]} ({c.type}); write it as one of "
                        f"{', '.join(ACCEPTED[c.type])}, or as text")
    return None


def union_types(table: Table, ta: TableAdapter, files: list[tuple[list[str], dict[str, str], str | None]],
                ) -> dict[str, str]:
    """The type each contract column has in the table's one relation.

    `files` holds (columns, types, issue field) of every readable file. A column with one type in every
    file keeps it (native Parquet types stay fast); a column whose types differ, or that some file
    lacks and the adapter fills with text, is read as text everywhere and parsed row by row.
    """
    out: dict[str, str] = {}
    for c in table.columns:
        src = ta.export_column(c.name)
        seen = set()
        if c.name in ta.derive:  # an expression's result is read as text and parsed like an export's value
            out[c.name] = TEXT
            continue
        for columns, types, bad in files:
            if src in columns and bad != c.name:
                if family(types.get(src, TEXT)) != "null":
                    seen.add(types.get(src, TEXT))
            elif c.name in ta.defaults or c.default is not None:
                seen.add(TEXT)
        out[c.name] = seen.pop() if len(seen) == 1 else TEXT
    return out
