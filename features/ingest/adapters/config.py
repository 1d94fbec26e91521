"""Adapters: map another export layout onto the input contract by configuration.

Provinces name files and columns differently, use their own code lists and date formats, and
often export GBK. An adapter file (TOML or YAML) says how, so a new layout needs a config file,
not a code change. Codes are mapped explicitly, never guessed (DOMAIN.md).

    encoding = "gbk"                                 # CSV encoding (the --encoding flag otherwise)
    timestamp_formats = ["%Y%m%d%H%M%S"]             # tried before the built-in formats
    date_formats = ["%Y%m%d"]

    [tables.fee_list_d]
    source = "FYMX"                                  # file or folder name in the export
    columns = { feedetl_sn = "MXLSH", cnt = "SL" }   # contract name = export name
    formats = { fee_ocur_time = "%Y%m%d%H%M%S" }     # per-column date/time format
    defaults = { trace_code = "" }                   # constant when the export lacks the column
    derive = { age = "date_diff('year', strptime(CSRQ, '%Y%m%d'), strptime(KSSJ, '%Y%m%d%H%M%S'))" }
    [tables.fee_list_d.values.med_chrgitm_type]      # export value = contract code
    "1" = "01"
    [tables.fixmedins.values]
    fixmedins_type = "codes/jglx.csv"                # or a CSV file beside the adapter: export value, code

`derive` computes a contract column with a DuckDB SQL expression over the export's own columns (as
the export names them, with their values as they are: a CSV export's columns are untrimmed text, so
trim, cast or parse them). The result is read as text (`true`, `1.5`, `2024-01-05`) and validated like
any other column: a code column wants the code itself. An expression may not read a personal identifier (those are
pseudonymised before anything else reads them), and a derived column is not also mapped.
"""

from __future__ import annotations

import csv
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any

import sqlglot
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from sqlglot import exp

from features.schema import TABLES
from feijian.errors import ConfigError, validation_problems

# Functions an expression may not call: they read or change something outside the row (files, the
# environment, settings, other databases), which a column of an export has no need of.
FORBIDDEN_CALLS = re.compile(r"^(read_|parquet_|duckdb_|sniff_|glob$|getenv$|query|current_setting$|pragma|"
                             r"iceberg_|delta_|sqlite_|postgres_|mysql_|http|load_|install|set_|checkpoint)", re.I)


def expression_problem(expr: str) -> str | None:
    """Why `expr` cannot be a derived column (None: it can): one scalar expression over the row's
    columns, constants and functions of them; no query, table, or call that reaches outside the row."""
    try:
        trees = sqlglot.parse(expr, read="duckdb")
    except sqlglot.errors.SqlglotError as exc:
        return f"is not a SQL expression ({str(exc).splitlines()[0]})"
    if len(trees) != 1 or trees[0] is None:
        return "must be one expression (no ';')"
    for node in trees[0].walk():
        if isinstance(node, exp.Query | exp.Subquery | exp.Table | exp.Command):
            return "may not hold a query or a table: only the export's columns, constants and functions of them"
        if isinstance(node, exp.Func):
            name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
            if FORBIDDEN_CALLS.match(name or ""):
                return f"may not call {name.lower()}(): it reaches outside the row"
    return None


def _text_map(raw: Any) -> Any:
    """name = value pairs as text (TOML and YAML may give numbers; an empty value is empty text)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError(f"must be a table of name = value pairs, got {raw!r}")
    return {str(k): "" if v is None else str(v) for k, v in raw.items()}


def _formats(raw: Any) -> Any:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        return raw
    raise ValueError(f"must be a strptime format or a list of them, got {raw!r}")


def _none_is_empty(raw: Any) -> Any:
    return {} if raw is None else raw


TextMap = Annotated[dict[str, str], BeforeValidator(_text_map)]
Formats = Annotated[list[str], BeforeValidator(_formats)]


class TableAdapter(BaseModel):
    """How one contract table appears in the export."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # file/folder stem in the export, when it differs from the table name
    source: Annotated[str | None, BeforeValidator(lambda v: str(v) if v else None)] = None
    columns: TextMap = Field(default_factory=dict)  # contract column -> export column
    # contract column -> {export value: contract code}
    values: Annotated[dict[str, TextMap], BeforeValidator(_none_is_empty)] = Field(default_factory=dict)
    # contract column -> strptime formats
    formats: Annotated[dict[str, Formats], BeforeValidator(_none_is_empty)] = Field(default_factory=dict)
    defaults: TextMap = Field(default_factory=dict)  # contract column -> constant text
    derive: TextMap = Field(default_factory=dict)  # contract column -> DuckDB SQL over the export's columns

    def export_column(self, name: str) -> str:
        return self.columns.get(name, name)


class Adapter(BaseModel):
    """An adapter file, validated by pydantic: its fields' types, then its tables and columns against
    the contract. Unset, the identity adapter (the contract's own names and codes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "contract"
    encoding: str | None = None
    date_formats: Formats = Field(default_factory=list)
    timestamp_formats: Formats = Field(default_factory=list)
    tables: Annotated[
        dict[str, Annotated[TableAdapter, BeforeValidator(_none_is_empty)]], BeforeValidator(_none_is_empty)
    ] = Field(default_factory=dict)
    path: Path | None = None

    @model_validator(mode="after")
    def _fits_the_contract(self) -> Adapter:
        for name, ta in self.tables.items():
            if name not in TABLES:
                raise ValueError(f"unknown table {name!r}; the contract has: {', '.join(TABLES)}")
            contract = TABLES[name]
            for section in ("columns", "values", "formats", "defaults", "derive"):
                for col in getattr(ta, section):
                    if col not in contract.column_names:
                        raise ValueError(f"tables.{name}.{section}: {col!r} is not a column of {name}; "
                                         f"columns: {', '.join(contract.column_names)}")
            for col, mapping in ta.values.items():
                codes = contract.column(col).codes
                wrong = sorted({v for v in mapping.values() if v and codes is not None and v not in codes})
                if wrong:
                    raise ValueError(f"tables.{name}.values.{col}: maps to {', '.join(map(repr, wrong[:5]))}, not "
                                     f"codes of {col}; its codes: {', '.join(codes)}")
            for col, expr in ta.derive.items():
                where = f"tables.{name}.derive.{col}"
                if not expr.strip():
                    raise ValueError(f"{where}: the expression is empty")
                problem = expression_problem(expr)
                if problem:
                    raise ValueError(f"{where}: {expr!r} {problem}")
                if contract.column(col).pseudonymise:
                    raise ValueError(f"{where}: {col!r} is a personal identifier, pseudonymised as it is read; "
                                     "it cannot be derived")
                if col in ta.columns or col in ta.defaults:
                    raise ValueError(f"{where}: {col!r} is derived and also in "
                                     f"{'columns' if col in ta.columns else 'defaults'}; keep one")
        return self

    def table(self, name: str) -> TableAdapter:
        return self.tables.get(name, TableAdapter())

    def source_names(self) -> dict[str, str]:
        """Lower-cased export name -> contract table."""
        out = {t: t for t in TABLES}
        for t, ta in self.tables.items():
            if ta.source:
                out[ta.source.lower()] = t
        return out


def load_adapter(path: Path | None) -> Adapter:
    """Read an adapter file (.toml, .yaml/.yml); None gives the identity adapter."""
    if path is None:
        return Adapter()
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read adapter {path}: {exc}") from exc
    try:
        if path.suffix.lower() == ".toml":
            raw = tomllib.loads(text.decode("utf-8"))
        elif path.suffix.lower() in (".yaml", ".yml"):
            raw = yaml.safe_load(text) or {}
        else:
            raise ConfigError(f"adapter {path}: use a .toml or .yaml file")
    except (tomllib.TOMLDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"adapter {path} is not valid: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"adapter {path}: expected a table of settings, got {raw!r}")
    _read_code_files(raw, path)
    try:
        return Adapter.model_validate({**raw, "name": str(raw.get("name") or path.stem), "path": path})
    except ValidationError as exc:
        problems = [f"adapter {path}: {p}" for p in validation_problems(exc.errors())]
        if any(e["type"] == "extra_forbidden" for e in exc.errors()):
            problems.append(f"(a table's fields: {', '.join(TableAdapter.model_fields)}; the file's: "
                            f"{', '.join(f for f in Adapter.model_fields if f != 'path')})")
        raise ConfigError("\n".join(problems)) from None


def _read_code_files(raw: dict[str, Any], path: Path) -> None:
    """Replace each `values.<column> = "file.csv"` (a name ending .csv) with the file's pairs
    (export value, contract code).

    The file is UTF-8 CSV (a BOM is allowed) with a header line; its first two columns are read, and
    the path is relative to the adapter file.
    """
    tables = raw.get("tables")
    if not isinstance(tables, dict):
        return
    for name, ta in tables.items():
        values = ta.get("values") if isinstance(ta, dict) else None
        if not isinstance(values, dict):
            continue
        for col, spec in values.items():
            if isinstance(spec, str) and spec.lower().endswith(".csv"):
                values[col] = _code_file(path.parent / spec, f"adapter {path}: tables.{name}.values.{col}")


def _code_file(file: Path, where: str) -> dict[str, str]:
    try:
        with file.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read the code list {file}: {exc}") from None
    out: dict[str, str] = {}
    for i, row in enumerate(rows[1:], start=2):
        if not row or not any(v.strip() for v in row):
            continue
        if len(row) < 2:
            raise ConfigError(f"{where}: {file} line {i}: expected two fields (export value, contract code), "
                              f"got {len(row)}")
        value, code = row[0].strip(), row[1].strip()
        if value in out and out[value] != code:
            raise ConfigError(f"{where}: {file} line {i}: {value!r} is mapped twice ({out[value]!r} and {code!r})")
        out[value] = code
    if not out:
        raise ConfigError(f"{where}: the code list {file} has no rows below its header")
    return out
