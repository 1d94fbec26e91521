"""`feijian ingest --check`: a dry run, in seconds, of what a real ingest of an export would say.

The same file checks, row checks and reference checks as ingest (sources, validate, validate_refs) run
on the reference tables whole (fixmedins, dr_info, catalog, admdvs: small, and what the event tables
point at) and on a sample of each event table (the first `sample_rows` rows of `SAMPLE_FILES` of its
files, first, middle and last). It says which contract columns are mapped, derived, defaulted or missing, each
code column's unknown values with their counts and a suggested adapter line, and each table's
rejected share. References between sampled tables (a fee line's settlement) are not checked: the
sample does not hold them all.

Nothing is written to the workspace. CSV samples are staged in a private temporary folder with their
identifiers hashed under a throwaway key, as ingest does under the workspace's.

`ingest` runs the same check first and stops before reading the event tables in full when it is
certain to fail (`CheckReport.certain`): a reference table over the reject limit (read whole, so
exact); a table none of whose files can be read or hold a required column, or an event table whose
sample lost more than half its rows, when every file of the table was looked at. Event-table files
are sampled first, middle and last in name order.
"""

from __future__ import annotations

import re
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from features.ingest import write as iw
from features.ingest.adapters.config import Adapter, load_adapter
from features.ingest.pseudonym import Pseudonymiser
from features.ingest.report import resolve_encoding
from features.ingest.sources import Discovery, discover, prepare
from features.ingest.validate import checked_sql
from features.ingest.validate_refs import build_keys, build_rejects, empty_reconciliation, find_duplicates
from features.schema import LOAD_ORDER, TABLES, Column, Table, code_labels
from features.sql_text import ident, literal
from feijian.errors import InputError

SAMPLE_ROWS = 20_000  # per event-table file
SAMPLE_FILES = 3  # of each event table, the first in name order
CERTAIN_SHARE = 0.5  # a sample that lost more than this: the full read cannot pass
SAMPLED = frozenset(n for n, t in TABLES.items() if t.kind == "event")


@dataclass
class UnknownCode:
    table: str
    column: str
    value: str
    rows: int
    suggestion: str | None  # the contract code it most likely means (by code or label), if any

    @property
    def line(self) -> str:
        """The adapter line that maps it: `"value" = "code"` under [tables.T.values.column]."""
        return f'"{_toml(self.value)}" = "{_toml(self.suggestion or "")}"'


@dataclass
class TableCheck:
    table: str
    sampled: bool  # an event table: the figures are the sample's
    files: int
    files_read: int  # of the files looked at, those read (a header-only file is read: it holds no rows)
    files_sampled: int = 0  # how many of its files were looked at
    rows: int = 0
    rejected: int = 0
    columns: dict[str, str] = field(default_factory=dict)  # contract column -> how it is filled
    file_issues: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    reasons: list[tuple[str, int, str]] = field(default_factory=list)  # (field, rows, an example reason)

    @property
    def share(self) -> float:
        return self.rejected / self.rows if self.rows else 0.0


@dataclass
class CheckReport:
    src: str
    adapter: str
    workspace: str | None  # whose loaded reference tables the references were checked against too
    sample_rows: int
    max_reject_share: float
    tables: dict[str, TableCheck] = field(default_factory=dict)
    unknown_codes: list[UnknownCode] = field(default_factory=list)
    unknown_files: list[tuple[str, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # why the real ingest would fail
    certain: list[str] = field(default_factory=list)  # the failures a full read cannot change
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _toml(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _norm(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).lower()


def suggest(col: Column, value: str) -> str | None:
    """The code an export's value most likely stands for: the same code or label up to case and
    punctuation (`tip-off` → `tip_off`, `公立` → `public`), else the one label it contains or is part of."""
    labels = code_labels(col)
    v = _norm(value)
    if not v:
        return None
    for code in col.codes or ():
        if v in (_norm(code), _norm(labels.get(code, ""))):
            return code
    near = [c for c, label in labels.items() if _norm(label) and (_norm(label) in v or v in _norm(label))]
    return near[0] if len(near) == 1 else None


def spread(paths: list[Path]) -> list[Path]:
    """Up to SAMPLE_FILES of a table's files, first, middle and last in name order: an old layout in the
    first months and a new one in the last are both seen."""
    if len(paths) <= SAMPLE_FILES:
        return list(paths)
    picks = sorted({round(i * (len(paths) - 1) / (SAMPLE_FILES - 1)) for i in range(SAMPLE_FILES)})
    return [paths[i] for i in picks]


def _columns(table: Table, ad: Adapter, headers: list[list[str]]) -> dict[str, str]:
    ta = ad.table(table.name)
    seen = set().union(*map(set, headers)) if headers else set()
    out = {}
    for c in table.columns:
        src = ta.export_column(c.name)
        if c.name in ta.derive:
            out[c.name] = f"derived: {ta.derive[c.name]}"
        elif src in seen:
            out[c.name] = "present" if src == c.name else f"mapped from {src}"
        elif c.name in ta.defaults:
            out[c.name] = f"adapter default {ta.defaults[c.name]!r}"
        elif not c.required:
            out[c.name] = f"absent (optional: {'NULL' if c.default is None else repr(c.default)})"
        else:
            out[c.name] = "MISSING"
    return out


def _unknown_codes(con: duckdb.DuckDBPyConnection, table: Table, limit: int = 12) -> list[UnknownCode]:
    out = []
    for c in table.columns:
        if not c.codes:
            continue
        rows = con.sql(f"SELECT {ident('x_' + c.name)} AS v, count(*) AS n FROM checked_{table.name} "
                       f"WHERE {ident(c.name)} IS NOT NULL AND {ident(c.name)} NOT IN {literal(c.codes)} "
                       f"GROUP BY v ORDER BY n DESC, v LIMIT {limit}").fetchall()
        out += [UnknownCode(table.name, c.name, str(v), int(n), suggest(c, str(v))) for v, n in rows]
    return out


def loaded_version(workspace: Path) -> Path | None:
    """The workspace's loaded tables: the version `raw` links to, or a plain `raw/` folder (ingest adopts
    it as a version when it next writes; the check only reads it)."""
    raw = Path(workspace) / "raw"
    return iw.current_version(workspace) or (raw if raw.is_dir() else None)


def check_export(src: Path, adapter: Path | Adapter | None = None, encoding: str | None = None,
                 workspace: Path | None = None, max_reject_share: float = 0.05, now: date | None = None,
                 sample_rows: int = SAMPLE_ROWS, found: Discovery | None = None,
                 allow_unreadable_files: bool = False) -> CheckReport:
    """Check the export in `src` as ingest would, on the reference tables and a sample of the rest.

    References are checked against this export's reference tables and, with `workspace`, the ones
    already loaded there."""
    t0 = time.perf_counter()
    src = Path(src)
    if not src.is_dir():
        raise InputError(f"{src} is not a folder; pass the export folder with one sub-folder or file per table")
    ad = adapter if isinstance(adapter, Adapter) else load_adapter(adapter)
    enc = resolve_encoding(encoding, ad)
    found = found or discover(src, ad)
    today = now or date.today()
    report = CheckReport(str(src), ad.name, str(workspace) if workspace else None, sample_rows, max_reject_share)
    report.unknown_files = [(str(p), r) for p, r in found.unknown]
    current = loaded_version(workspace) if workspace else None
    hasher = Pseudonymiser(secrets.token_bytes(32))  # a throwaway key: nothing staged here outlives the run
    con = duckdb.connect()
    try:
        with tempfile.TemporaryDirectory(prefix="feijian-check-") as tmp:  # mode 0700
            con.execute("SET memory_limit = '2GB'")
            con.execute("SET temp_directory = $dir", {"dir": str(Path(tmp) / "duckdb")})
            staging = Path(tmp) / "staging"
            staging.mkdir()
            _check_tables(con, report, found, ad, enc, staging, hasher, today, current)
    finally:
        hasher.close()
        con.close()
    verdict(report, allow_unreadable_files)
    report.elapsed_s = round(time.perf_counter() - t0, 3)
    return report


def _check_tables(con: duckdb.DuckDBPyConnection, report: CheckReport, found: Discovery, ad: Adapter, enc: str,
                  staging: Path, hasher: Pseudonymiser, today: date, current: Path | None) -> None:
    fid, file_rows, checked = 0, [], []
    for name in LOAD_ORDER:
        if name not in found.tables:
            continue
        table, sampled = TABLES[name], name in SAMPLED
        paths = spread(found.tables[name]) if sampled else found.tables[name]
        ts = prepare(table, paths, ad.table(name), enc, staging, fid, hasher,
                     sample_rows=report.sample_rows if sampled else None)
        fid += 2 * len(paths)
        file_rows += [(f.fid, str(f.path)) for f in ts.files]
        tc = TableCheck(name, sampled, len(found.tables[name]), sum(not f.not_read for f in ts.files),
                        files_sampled=len(paths))
        tc.columns = _columns(table, ad, [f.columns for f in ts.files if not f.fatal])
        tc.file_issues = [(str(f.path), f.issue) for f in ts.files if f.issue]
        report.tables[name] = tc
        if ts.sql is None:
            continue
        types = {r[0]: r[1] for r in con.sql(f"DESCRIBE {ts.sql}").fetchall()}
        con.execute(f"CREATE TEMP TABLE checked_{name} AS {checked_sql(table, ts.sql, types, ad, today)}")
        tc.rows = con.sql(f"SELECT count(*) FROM checked_{name}").fetchall()[0][0] + len(ts.pre_rejects)
        tc.rejected = len(ts.pre_rejects)
        checked.append(name)
    con.execute("CREATE TEMP TABLE src_files (fid BIGINT, path VARCHAR)")
    if file_rows:
        con.executemany("INSERT INTO src_files VALUES (?, ?)", file_rows)
    empty_reconciliation(con)  # settlements and their fee lines are sampled apart: not reconciled here
    key_tables: dict[str, str] = {}
    for name in LOAD_ORDER:
        table = TABLES[name]
        if name in checked:
            find_duplicates(con, table)
            tc = report.tables[name]
            tc.rejected += build_rejects(con, table, key_tables, unchecked=SAMPLED)
            tc.reasons = [(str(f), int(n), str(r)) for f, n, r in con.sql(
                f"SELECT _field, count(*) AS n, min(split_part(_reason, '; ', 1)) FROM rej_{name} "
                "GROUP BY _field ORDER BY n DESC LIMIT 6").fetchall()]
            report.unknown_codes += _unknown_codes(con, table)
        old = iw.old_table_sql(current, table)
        if name not in SAMPLED and (name in checked or old):
            key_tables[name] = build_keys(con, table, old, name in checked)


def verdict(report: CheckReport, allow_unreadable_files: bool = False) -> None:
    """Set `failures` (the real ingest would stop) and `certain` (it would stop whatever the full read).

    A table whose rejects are mostly references to a failing table is named as following from it."""
    limit = report.max_reject_share
    report.failures, report.certain = [], []
    for path, reason in report.unknown_files:
        report.failures.append(f"{path}: {reason}")
    failing = {t.table for t in report.tables.values() if t.rows and t.share > limit}
    for tc in report.tables.values():
        missing = [c for c, how in tc.columns.items() if how == "MISSING"]
        whole = tc.files_sampled == tc.files  # every file of the table was looked at
        if tc.files and tc.files_read == 0 and not allow_unreadable_files:
            why = f" ({tc.file_issues[0][1]})" if tc.file_issues else ""
            msg = f"{tc.table}: none of the {tc.files_sampled} of its {tc.files} file(s) looked at can be read{why}"
            report.failures.append(msg)
            if whole:
                report.certain.append(msg)
            continue
        if missing and tc.rows and tc.rejected == tc.rows:
            msg = f"{tc.table}: required column(s) {', '.join(missing)} missing in every file looked at"
            report.failures.append(msg)
            if whole:
                report.certain.append(msg)
            continue
        if tc.rows and tc.share > limit:
            scope = f"of a sample of {tc.rows:,} rows" if tc.sampled else f"of {tc.rows:,} rows"
            msg = f"{tc.table}: {tc.rejected:,} {scope} rejected ({tc.share:.1%}, limit {limit:.0%})"
            top = TABLES[tc.table].column(tc.reasons[0][0]) if tc.reasons and tc.reasons[0][0] in \
                TABLES[tc.table].column_names else None
            if top is not None and top.references and top.references[0] in failing - {tc.table}:
                msg += f", mostly as {top.name} not found in {top.references[0]}: fix {top.references[0]} first"
            report.failures.append(msg)
            if not tc.sampled or (whole and tc.share > CERTAIN_SHARE):
                report.certain.append(msg)
