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
    [tables.fee_list_d.values.med_chrgitm_type]      # export value = contract code
    "1" = "01"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from features.schema import TABLES
from feijian.errors import ConfigError


@dataclass(frozen=True)
class TableAdapter:
    source: str | None = None  # file/folder stem in the export, when it differs from the table name
    columns: dict[str, str] = field(default_factory=dict)  # contract column -> export column
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # contract column -> {export: contract}
    formats: dict[str, list[str]] = field(default_factory=dict)  # contract column -> strptime formats
    defaults: dict[str, str] = field(default_factory=dict)  # contract column -> constant text

    def export_column(self, name: str) -> str:
        return self.columns.get(name, name)


@dataclass(frozen=True)
class Adapter:
    name: str = "contract"
    encoding: str | None = None
    date_formats: list[str] = field(default_factory=list)
    timestamp_formats: list[str] = field(default_factory=list)
    tables: dict[str, TableAdapter] = field(default_factory=dict)
    path: Path | None = None

    def table(self, name: str) -> TableAdapter:
        return self.tables.get(name, TableAdapter())

    def source_names(self) -> dict[str, str]:
        """Lower-cased export name -> contract table."""
        out = {t: t for t in TABLES}
        for t, ta in self.tables.items():
            if ta.source:
                out[ta.source.lower()] = t
        return out


def _str_map(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table of name = value pairs, got {raw!r}")
    return {str(k): "" if v is None else str(v) for k, v in raw.items()}


def _formats(raw: Any, where: str) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        return list(raw)
    raise ConfigError(f"{where} must be a strptime format or a list of them, got {raw!r}")


def _table_adapter(name: str, raw: dict[str, Any], where: str) -> TableAdapter:
    unknown = set(raw) - {"source", "columns", "values", "formats", "defaults"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; allowed: source, columns, values, formats, "
                          "defaults")
    contract = TABLES[name]
    columns = _str_map(raw.get("columns"), f"{where}.columns")
    values = {c: _str_map(m, f"{where}.values.{c}") for c, m in (raw.get("values") or {}).items()}
    formats = {c: _formats(f, f"{where}.formats.{c}") for c, f in (raw.get("formats") or {}).items()}
    defaults = _str_map(raw.get("defaults"), f"{where}.defaults")
    for section, names in (("columns", columns), ("values", values), ("formats", formats), ("defaults", defaults)):
        for col in names:
            if col not in contract.column_names:
                raise ConfigError(f"{where}.{section}: {col!r} is not a column of {name}; "
                                  f"columns: {', '.join(contract.column_names)}")
    source = raw.get("source")
    return TableAdapter(source=str(source) if source else None, columns=columns, values=values,
                        formats=formats, defaults=defaults)


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
    tables_raw = raw.get("tables") or {}
    tables: dict[str, TableAdapter] = {}
    for name, t in tables_raw.items():
        if name not in TABLES:
            raise ConfigError(f"adapter {path}: unknown table {name!r}; the contract has: {', '.join(TABLES)}")
        tables[name] = _table_adapter(name, t or {}, f"{path.name}: tables.{name}")
    return Adapter(
        name=str(raw.get("name") or path.stem),
        encoding=raw.get("encoding"),
        date_formats=_formats(raw.get("date_formats"), "date_formats"),
        timestamp_formats=_formats(raw.get("timestamp_formats"), "timestamp_formats"),
        tables=tables,
        path=path,
    )
