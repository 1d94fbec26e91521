"""Build a point-in-time feature snapshot: `feijian features --as-of DATE`.

One snapshot = (as_of, window) → facility rows, physician rows, the rule evidence, and a meta file
with the declaration version and a fingerprint of the inputs. Nothing dated on or after `as_of` is
read: the source views are pruned by month partition and filtered by timestamp before any SQL runs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from features.rings import RING_FILES, Rings, detect_rings
from features.snapshot import peer, registry
from features.snapshot.window import Window, fac_tier_sql, month_bounds, require_columns, source_tables, table_folder
from features.sql_text import literal, query, run
from feijian.errors import InputError, MissingTableError
from feijian.settings import Workspace

if TYPE_CHECKING:
    from features.rules.changes import RuleBase

FILL_ZERO_FAMILIES = ("volume", "rules", "rings", "history")
NEVER_INSPECTED_DAYS = 3650
ENGINES = ("duckdb", "spark")


def read_sql(name: str) -> str:
    """The text of features/snapshot/sql/<name>.sql: statements naming their values as $parameters."""
    return resources.files("features.snapshot").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")


# --- sources ---------------------------------------------------------------------------------------


def source_expr(workspace: Path, table: str) -> str:
    """read_parquet() over one raw table; month=YYYY-MM hive partitions are read as text."""
    folder = table_folder(workspace, table)
    pattern = literal(folder / "**" / "*.parquet")
    if any(p.is_dir() and "=" in p.name for p in folder.iterdir()):
        return (
            f"read_parquet({pattern}, hive_partitioning = true, union_by_name = true, "
            "hive_types = {'month': VARCHAR})"
        )
    return f"read_parquet({pattern}, union_by_name = true)"


def scratch_dir(ws: Workspace) -> Path:
    """DuckDB's spill directory and the build's scratch databases."""
    return ws.root / ".tmp" / "duckdb"


def connect(
    ws: Workspace, memory_limit: str = "4GB", threads: int = 2, database: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """DuckDB with the build's limits. With `database` (a scratch file), the build's regular tables
    (`win_fee`) are written compressed to that file as they fill, instead of being held uncompressed
    in memory: at 18 M window fee lines the table is ~775 MB on disk against > 4 GB in memory, which
    would spill past the memory limit and slow the build (timings in docs/benchmarks.md)."""
    tmp = scratch_dir(ws)
    tmp.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(database) if database else ":memory:")
    con.execute("SET memory_limit = $limit", {"limit": memory_limit})
    con.execute("SET threads = $threads", {"threads": int(threads)})
    con.execute("SET temp_directory = $dir", {"dir": str(tmp)})
    con.execute("SET preserve_insertion_order = false")
    return con


def create_sources(con: duckdb.DuckDBPyConnection, ws: Workspace, win: Window) -> None:
    """Views over the workspace, pruned to the months the window needs and checked against the contract.

    A view keeps its SQL text, so its bounds are written as literals (DuckDB prepares no CREATE VIEW).
    """
    first_month, last_month = month_bounds(win)
    for view, table, spec in source_tables(con, ws):
        src = source_expr(ws.root, table)
        cols, where = "*", ""
        if "hive_partitioning" in src:
            cols = "* EXCLUDE (month)"
            where = f" WHERE month BETWEEN {literal(first_month)} AND {literal(last_month)}"
        if spec.time_column:
            where += (" AND " if where else " WHERE ") + f"{spec.time_column} < {literal(win.as_of)}"
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT {cols} FROM {src}{where}")
        present = {r[0] for r in con.execute(f"DESCRIBE {view}").fetchall()}
        require_columns(table, present)
        if table == "fee_list_d" and "trace_code" not in present:
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {view} AS "
                f"SELECT {cols}, CAST(NULL AS VARCHAR) AS trace_code FROM {src}{where}"
            )
    run(con, fac_tier_sql(), win.params())


def input_fingerprint(ws: Workspace) -> str:
    """The ingest manifest's fingerprint when present, else a hash of the raw files' names and sizes."""
    if ws.manifest.exists():
        manifest = json.loads(ws.manifest.read_text(encoding="utf-8"))
        for key in ("fingerprint", "input_fingerprint"):
            if isinstance(manifest.get(key), str):
                return manifest[key]
    h = hashlib.sha256()
    for p in sorted(ws.raw.rglob("*.parquet")):
        h.update(f"{p.relative_to(ws.raw)}:{p.stat().st_size}".encode())
    return h.hexdigest()


# --- the build -------------------------------------------------------------------------------------


@dataclass
class Snapshot:
    path: Path
    snapshot_id: str
    facility: pd.DataFrame
    physician: pd.DataFrame
    n_evidence: int
    seconds: dict[str, float]


def _family(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, object]) -> pd.DataFrame:
    df = query(con, read_sql(name), params).df()
    declared = [f.name for f in registry.features("facility", name)]
    got = [c for c in df.columns if c != "fixmedins_code"]
    if got != declared:
        raise RuntimeError(f"features/snapshot/sql/{name}.sql returns {got}, declared {declared}")
    return df


def _fill(frame: pd.DataFrame, level: registry.Level) -> pd.DataFrame:
    for f in registry.features(level):
        if f.family in FILL_ZERO_FAMILIES or f.fmt == "{:,.0f}":
            frame[f.name] = frame[f.name].fillna(0)
        # float64 whichever engine computed it (DuckDB's HUGEINT sums arrive as floats, Spark's as ints)
        frame[f.name] = frame[f.name].astype("float64")
    if "days_since_inspection" in frame:
        frame["days_since_inspection"] = frame["days_since_inspection"].where(
            frame["prior_inspections"] > 0, NEVER_INSPECTED_DAYS
        )
    return frame


def evaluate_evidence(con: duckdb.DuckDBPyConnection, rules: list | None = None) -> None:
    """Run the rule base over the window views; it leaves its hits in the temp table `evidence`."""
    from features.rules import evaluate_rules

    evaluate_rules(con, rules, return_table=False)


def build_snapshot(
    workspace: Path,
    as_of: date,
    window_months: int = 12,
    progress: Callable[[str], None] | None = None,
    memory_limit: str = "4GB",
    rules: list | None = None,
    engine: str = "duckdb",
    spark_master: str | None = None,
) -> Snapshot:
    """The snapshot on DuckDB (one machine) or Spark SQL (`engine="spark"`, master URL from
    `spark_master`, $FEIJIAN_SPARK_MASTER or local[*]): the same SQL statements, run on either. The
    rules are the workspace's (the library with its changes) unless `rules` are given, read once: the
    snapshot's meta names the version that ran and its fingerprint the rules' digest."""
    from features.rules.changes import rule_base
    if window_months < 1 or window_months > 60:
        raise InputError(f"--window-months must be between 1 and 60, got {window_months}")
    ws = Workspace(workspace)
    win = Window(as_of, window_months)
    base = rule_base(ws.root, rules)
    params = win.params()
    say = progress or (lambda _s: None)
    timings: dict[str, float] = {}
    scratch = scratch_dir(ws) / f"build-{uuid.uuid4().hex}.duckdb"  # used by the DuckDB engine only
    con, sources = open_engine(engine, ws, memory_limit, spark_master, scratch)
    try:
        t = time.perf_counter()
        sources(con, ws, win)
        say("staging")
        run(con, read_sql("staging"), params)
        timings["staging"] = time.perf_counter() - t

        t = time.perf_counter()
        say("rule engine")
        evaluate_evidence(con, base.rules)
        timings["rule engine"] = time.perf_counter() - t

        t = time.perf_counter()
        say("ring detection")
        rings = detect_rings(con, params)
        con.register("ring_facility", rings.facility)
        timings["ring detection"] = time.perf_counter() - t

        t = time.perf_counter()
        say("physician")
        run(con, f"CREATE OR REPLACE TEMP TABLE physician_raw AS {read_sql('physician')}", params)
        timings["physician"] = time.perf_counter() - t

        facility = con.sql(f"SELECT {', '.join(registry.FACILITY_KEYS)} FROM fac_tier").df()
        for fam in registry.FAMILIES:
            t = time.perf_counter()
            say(fam)
            facility = facility.merge(_family(con, fam, params), on="fixmedins_code", how="left")
            timings[fam] = time.perf_counter() - t
        facility = _fill(facility, "facility")

        dr_cols = list(registry.PHYSICIAN_KEYS) + [f.name for f in registry.features("physician")]
        physician = con.sql(f"SELECT {', '.join(dr_cols)} FROM physician_raw").df()
        physician = _fill(physician, "physician")

        t = time.perf_counter()
        say("peer normalisation")
        fac_stats = peer.fit(facility, "facility")
        dr_stats = peer.fit(physician, "physician")
        facility = peer.transform(facility.sort_values("fixmedins_code"), fac_stats)
        physician = peer.transform(physician.sort_values("dr_code"), dr_stats)
        timings["peer"] = time.perf_counter() - t

        say("write")
        snap = _write(con, ws, win, facility, physician, fac_stats, dr_stats, timings, base, engine, rings)
    finally:
        con.close()
        for leftover in (scratch, scratch.with_name(scratch.name + ".wal")):
            leftover.unlink(missing_ok=True)
    return snap


def open_engine(
    engine: str, ws: Workspace, memory_limit: str, spark_master: str | None = None, scratch: Path | None = None
) -> tuple:
    """A connection that runs the build's DuckDB-dialect statements, and its source-view builder.

    DuckDB runs them as written (its regular tables in the `scratch` file, removed by the caller);
    Spark (features.snapshot.spark) transpiles each with sqlglot.
    """
    if engine == "duckdb":
        return connect(ws, memory_limit=memory_limit, database=scratch), create_sources
    if engine == "spark":
        from features.snapshot import spark as engine_spark

        return engine_spark.connect(ws, spark_master), engine_spark.create_sources
    raise InputError(f"engine must be one of: {', '.join(ENGINES)}; got {engine!r}")


def _write(
    con: duckdb.DuckDBPyConnection,
    ws: Workspace,
    win: Window,
    facility: pd.DataFrame,
    physician: pd.DataFrame,
    fac_stats: peer.PeerStats,
    dr_stats: peer.PeerStats,
    timings: dict[str, float],
    base: RuleBase,
    engine: str = "duckdb",
    rings: Rings | None = None,
) -> Snapshot:
    rules_version = base.version
    inputs = input_fingerprint(ws)
    snapshot_id, fingerprint = snapshot_identity(ws, win, inputs, base)
    final = ws.features / snapshot_id
    staging = ws.features / f".{snapshot_id}.{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    facility.to_parquet(staging / "facility.parquet", index=False)
    physician.to_parquet(staging / "physician.parquet", index=False)
    con.execute(
        "COPY (SELECT * FROM evidence ORDER BY rule_id, fixmedins_code, event_time, mdtrt_id) "
        "TO $path (FORMAT parquet, COMPRESSION zstd)",
        {"path": str(staging / "evidence.parquet")},
    )
    n_evidence = int(con.execute("SELECT COUNT(*) FROM evidence").fetchone()[0])  # type: ignore[index]
    n_rings = 0
    if rings is not None:
        for name, frame in RING_FILES.items():
            getattr(rings, frame).to_parquet(staging / name, index=False)
        n_rings = len(rings.rings)
    fac_stats.to_frame().to_parquet(staging / "peer_facility.parquet", index=False)
    dr_stats.to_frame().to_parquet(staging / "peer_physician.parquet", index=False)
    meta = {
        "snapshot_id": snapshot_id,
        "as_of": win.as_of.isoformat(),
        "window_months": win.months,
        "window_start": win.start.isoformat(),
        "declaration_version": registry.declaration_version(),
        "rules_version": rules_version,
        "input_fingerprint": inputs,
        "fingerprint": fingerprint,
        "engine": engine,
        "rows": {"facility": len(facility), "physician": len(physician), "evidence": n_evidence, "rings": n_rings},
        "seconds": {k: round(v, 3) for k, v in timings.items()},
    }
    (staging / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)
    _mark_latest(ws, snapshot_id)
    return Snapshot(final, snapshot_id, facility, physician, n_evidence, timings)


def _mark_latest(ws: Workspace, snapshot_id: str) -> None:
    """LATEST names the snapshot with the newest as_of: building an older round's snapshot keeps it."""
    marker = ws.features / "LATEST"
    if marker.exists():
        current = marker.read_text(encoding="utf-8").strip()
        if (ws.features / current).is_dir() and current[:10] > snapshot_id[:10]:
            return
    marker.write_text(snapshot_id + "\n", encoding="utf-8")


def snapshot_identity(ws: Workspace, win: Window, inputs: str | None = None,
                      base: RuleBase | None = None) -> tuple[str, str]:
    """(snapshot_id, fingerprint) the build would write for this window: same inputs and the same rules
    (the workspace's, by their digest, unless `base` says which), same id."""
    from features.rules.changes import rule_base

    inputs = inputs if inputs is not None else input_fingerprint(ws)
    digest = (base or rule_base(ws.root)).digest
    fingerprint = hashlib.sha256(
        f"{inputs}|{win.as_of}|{win.months}|{registry.declaration_version()}|{digest}".encode()
    ).hexdigest()
    return f"{win.as_of.isoformat()}_w{win.months}_{fingerprint[:8]}", fingerprint


def latest_snapshot(workspace: Path) -> Path:
    ws = Workspace(workspace)
    marker = ws.features / "LATEST"
    if not marker.exists():
        raise MissingTableError(f"no feature snapshot in {ws.features}; run `feijian features --as-of DATE`")
    return ws.features / marker.read_text(encoding="utf-8").strip()
