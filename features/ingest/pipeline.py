"""`ingest`: validate, pseudonymise, quarantine and load a claims export into the workspace.

The library function behind `feijian ingest`. The order of work is chosen so nothing is lost and
nothing half-done is visible:

1. find the files and reject whole files that cannot be read (sources);
2. per-row checks as SQL views (validate), then duplicates, reconciliation, references (validate_refs);
3. quarantine every rejected row with file, row, field, value and reason — always written, even
   when the run then fails, so the user can look;
4. stop (RejectThresholdError) if any table lost more than `max_reject_share`, or has a file that could
   not be read (unless allowed), before touching data;
5. write a new workspace version (upsert by key, newest wins) and swap the `raw` symlink (write).

DuckDB streams the tables with a memory limit and spills to `<ws>/.tmp/<run>/` (0700, locked while
the run lives, removed at its end or by the next run: tmp), so 50 M fee lines fit in a few GB.
Personal identifiers are never written raw: staged CSV is hashed before it is written (csv),
Parquet is read in place and hashed when written; only DuckDB's spill files, in that private folder,
may hold raw values from a Parquet export while the run lasts.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from features.ingest import tmp as ingest_tmp
from features.ingest import write as iw
from features.ingest.adapters.config import Adapter, load_adapter
from features.ingest.check import check_export
from features.ingest.pseudonym import Pseudonymiser, key_id, load_key, pseudonym_table
from features.ingest.quarantine import quarantine_tables
from features.ingest.report import IngestReport, TableReport, fingerprint, read_previous_manifest, resolve_encoding
from features.ingest.sources import Discovery, TableSource, discover, prepare
from features.ingest.validate import checked_sql
from features.ingest.validate_refs import (
    Reconciliation,
    build_keys,
    build_rejects,
    empty_reconciliation,
    find_duplicates,
    reconcile,
)
from features.schema import LOAD_ORDER, TABLES, Table
from features.sql_text import ident
from feijian.errors import InputError, RejectThresholdError

SCHEMA_VERSION = "1"
PRECHECK_BYTES = 256 << 20  # an export this large is checked on a sample before it is read in full
REFERENCED = sorted({c.references[0] for t in TABLES.values() for c in t.columns if c.references})


def _parse_now(now: str | date | None) -> date:
    if now is None:
        return date.today()
    if isinstance(now, date):
        return now
    try:
        return date.fromisoformat(now[:10])
    except ValueError:
        raise InputError(f"--now {now!r} is not a date; use YYYY-MM-DD") from None


def connect(tmp: Path, memory_limit: str, threads: int | None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET memory_limit = $limit", {"limit": memory_limit})
    con.execute("SET temp_directory = $dir", {"dir": str(tmp / "duckdb")})
    con.execute("SET preserve_insertion_order = false")
    if threads:
        con.execute("SET threads = $threads", {"threads": int(threads)})
    return con


def _pseudonym_columns(table: Table) -> list[str]:
    return [c.name for c in table.columns if c.pseudonymise]


def _register_pseudonyms(con: duckdb.DuckDBPyConnection, sources: dict[str, TableSource], key: bytes) -> None:
    """Hash every distinct raw identifier once in Python; SQL joins the mapping back (no per-row UDF).

    Only Parquet rows are raw (read in place); staged CSV rows were hashed before staging (`_hashed`).
    """
    parts = [f"SELECT {ident(c)} AS v FROM checked_{t} WHERE NOT _hashed" for t in sources
             for c in _pseudonym_columns(TABLES[t])]
    if parts:
        distinct = con.sql(f"SELECT DISTINCT v FROM ({' UNION ALL '.join(parts)}) WHERE v IS NOT NULL").arrow()
        values = distinct.read_all() if hasattr(distinct, "read_all") else distinct
        mapping = pseudonym_table(values.column(0), key)
    else:
        mapping = pseudonym_table(duckdb.sql("SELECT NULL::VARCHAR WHERE false").arrow().read_all().column(0),
                                  key)
    con.register("psn_map_arrow", mapping)
    con.execute("CREATE OR REPLACE TEMP TABLE psn_map AS SELECT * FROM psn_map_arrow")
    con.unregister("psn_map_arrow")


def _accepted_sql(table: Table, n_rejected: int) -> str:
    """The new accepted rows of a table, identifiers replaced by their pseudonyms."""
    base = f"checked_{table.name}"
    if n_rejected:
        base = (f"(SELECT c.* FROM checked_{table.name} c ANTI JOIN rej_{table.name} r "
                f"ON c._fid = r._fid AND c._row = r._row)")
    cols, joins = [], []
    for i, c in enumerate(table.columns):
        if c.pseudonymise:
            joins.append(f"LEFT JOIN psn_map m{i} ON c.{ident(c.name)} = m{i}.raw")
            cols.append(f"CASE WHEN c._hashed THEN c.{ident(c.name)} ELSE m{i}.pseudonym END AS {ident(c.name)}")
        else:
            cols.append(f"c.{ident(c.name)}")
    return f"SELECT {', '.join(cols)} FROM {base} c {' '.join(joins)}"


def _upsert_sql(table: Table, new_sql: str, old_sql: str | None) -> str:
    if not old_sql:
        return new_sql
    on = " AND ".join(f"o.{ident(k)} = n.{ident(k)}" for k in table.key)
    keys = ", ".join(ident(k) for k in table.key)
    return (f"WITH n AS ({new_sql}) SELECT * FROM n UNION ALL "
            f"SELECT o.* FROM ({old_sql}) o ANTI JOIN (SELECT {keys} FROM n) n ON {on}")


def _precheck(src: Path, found: Discovery, ad: Adapter, enc: str, workspace: Path, share: float, today: date,
              allow_unreadable: bool, min_bytes: int) -> None:
    """Stop before the full read when the sample check says the run cannot pass (RejectThresholdError)."""
    size = sum(p.stat().st_size for ps in found.tables.values() for p in ps)
    if size < min_bytes:
        return  # reading it all takes about as long as the check
    pre = check_export(src, ad, enc, workspace, share, today, found=found, allow_unreadable_files=allow_unreadable)
    if pre.certain:
        exc = RejectThresholdError(
            "ingest stopped before reading the event tables in full, the workspace is unchanged: "
            + "; ".join(pre.certain) + f" (checked in {pre.elapsed_s:.1f} s on the reference tables and a sample; "
            "`feijian ingest --check` shows the unknown codes with the adapter lines that map them)")
        exc.check = pre  # type: ignore[attr-defined]
        raise exc


def ingest(src: Path, workspace: Path, adapter: Path | Adapter | None = None, encoding: str | None = None,
           max_reject_share: float = 0.05, now: str | date | None = None, memory_limit: str = "3GB",
           threads: int | None = None, keep_versions: int = iw.KEEP_VERSIONS,
           allow_unreadable_files: bool = False, precheck_bytes: int = PRECHECK_BYTES) -> IngestReport:
    """Load the export in `src` into `workspace`; see the module docstring for the guarantees.

    A file that cannot be read (damaged, cut short, not in the encoding) fails its table unless
    `allow_unreadable_files`: then the table's other files are loaded and the manifest lists it.
    An export of at least `precheck_bytes` is first checked on a sample (features.ingest.check): a run
    certain to fail stops there, in seconds, instead of after reading every fee line.
    """
    t0 = time.perf_counter()
    src, workspace = Path(src), Path(workspace)
    if not src.is_dir():
        raise InputError(f"{src} is not a folder; pass the export folder with one sub-folder or file per table")
    ad = adapter if isinstance(adapter, Adapter) else load_adapter(adapter)
    enc = resolve_encoding(encoding, ad)
    today = _parse_now(now)
    workspace.mkdir(parents=True, exist_ok=True)
    key = load_key(workspace)
    kid = key_id(key)
    previous = read_previous_manifest(workspace)
    if previous and previous.get("pseudonym_key_id") not in (None, kid):
        raise InputError(f"the workspace {workspace} was written with pseudonym key id "
                         f"{previous['pseudonym_key_id']}, the current key has id {kid}: mixing keys would split "
                         "people in two. Use the same key, or ingest into a fresh workspace.")
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)
    found = discover(src, ad)
    if not found.tables and not found.unknown:
        raise InputError(f"no tables found in {src}: expected sub-folders or files named {', '.join(TABLES)}")
    iw.adopt_plain_raw(workspace)  # first: the check reads the workspace's loaded reference tables
    _precheck(src, found, ad, enc, workspace, max_reject_share, today, allow_unreadable_files, precheck_bytes)
    iw.clean_versions(workspace, keep_versions)
    run_tmp = ingest_tmp.claim(workspace, run_id)
    ingest_tmp.clean_dead(workspace, keep=run_id)
    tmp = run_tmp.path
    (tmp / "staging").mkdir(mode=0o700)
    hasher = Pseudonymiser(key)
    all_files = [p for ps in found.tables.values() for p in ps]
    pool = ThreadPoolExecutor(max_workers=1)
    fp_future = pool.submit(fingerprint, src, all_files)
    try:
        report = IngestReport(run_id=run_id, src=str(src.resolve()), workspace=str(workspace), now=today.isoformat(),
                              adapter=ad.name, encoding=enc, pseudonym_key_id=kid, schema_version=SCHEMA_VERSION)
        report.unknown = [(str(p), r) for p, r in found.unknown]
        report.ignored = [str(p) for p in found.ignored]
        con = connect(tmp, memory_limit, threads)
        sources: dict[str, TableSource] = {}
        fid = 0
        file_rows: list[tuple[int, str]] = []
        for name in LOAD_ORDER:
            if name not in found.tables:
                continue
            ts = prepare(TABLES[name], found.tables[name], ad.table(name), enc, tmp / "staging", fid, hasher)
            fid += 2 * len(found.tables[name])
            file_rows += [(f.fid, str(f.path)) for f in ts.files]
            report.tables[name] = TableReport.from_source(ts)
            report.notes += ts.notes
            if ts.sql is None:
                continue
            types = {r[0]: r[1] for r in con.sql(f"DESCRIBE {ts.sql}").fetchall()}
            con.execute(f"CREATE TEMP VIEW checked_{name} AS {checked_sql(TABLES[name], ts.sql, types, ad, today)}")
            sources[name] = ts
        con.execute("CREATE TEMP TABLE src_files (fid BIGINT, path VARCHAR)")
        if file_rows:
            con.executemany("INSERT INTO src_files VALUES (?, ?)", file_rows)
        for name in sources:
            report.tables[name].duplicates = find_duplicates(con, TABLES[name])
        recon = reconcile(con) if {"setl_d", "fee_list_d"} <= set(sources) else Reconciliation()
        if not {"setl_d", "fee_list_d"} <= set(sources):
            empty_reconciliation(con)
        report.reconciliation = recon.as_dict()
        current = iw.current_version(workspace)
        key_tables: dict[str, str] = {}
        for name in LOAD_ORDER:
            table = TABLES[name]
            if name in sources:
                rep = report.tables[name]
                rep.rejected_rows = build_rejects(con, table, key_tables)
                rep.quarantined += rep.rejected_rows
                rep.accepted = rep.read - rep.quarantined
            old = iw.old_table_sql(current, table)
            if name in REFERENCED and (name in sources or old):
                key_tables[name] = build_keys(con, table, old, name in sources)
        for keys_table in key_tables.values():  # tens of millions of keys at scale: free them for the write
            con.execute(f"DROP TABLE {keys_table}")
        _register_pseudonyms(con, sources, key)
        qdir = workspace / "quarantine" / run_id
        report.quarantine_dir = str(qdir)
        report.quarantine_files = quarantine_tables(con, report, sources, found.unknown, qdir)
        over = report.judge(max_reject_share, allow_unreadable_files)
        report.fingerprint = fp_future.result()
        if over:
            report.status = "rejected"
            if qdir.is_dir():
                iw.write_json_atomic(qdir / "report.json", report.as_dict())
                os.chmod(qdir / "report.json", 0o600)
            exc = RejectThresholdError(
                "ingest stopped, the workspace is unchanged: " + "; ".join(over)
                + f" (limit --max-reject-share {max_reject_share:.0%}). See the reasons in {qdir}/, fix the "
                "export or the adapter, or raise the limit.")
            exc.report = report  # type: ignore[attr-defined]
            raise exc
        new = iw.new_version_dir(workspace)
        try:
            for name, table in TABLES.items():
                old = iw.old_table_sql(current, table)
                if name not in sources:
                    iw.link_table(current, new, name)
                    continue
                rep = report.tables[name]
                old_total = con.sql(f"SELECT count(*) FROM ({old})").fetchall()[0][0] if old else 0
                written = iw.write_table(con, table, _upsert_sql(table, _accepted_sql(table, rep.rejected_rows),
                                                                 old), new)
                rep.updated = old_total - (written - rep.accepted)
                rep.inserted = rep.accepted - rep.updated
            report.version = new.name
            report.elapsed_s = round(time.perf_counter() - t0, 3)
            report.status = "ok"
            iw.write_json_atomic(new / "manifest.json", report.as_dict())
            iw.swap(workspace, new)
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
        iw.write_json_atomic(workspace / "manifest.json", report.as_dict())
        iw.clean_versions(workspace, keep_versions)
        con.close()
        return report
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        hasher.close()
        run_tmp.release()
