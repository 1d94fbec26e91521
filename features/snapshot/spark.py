"""The feature and rule SQL on Spark SQL (PySpark): `feijian features --engine spark`.

One declaration, two engines. The SQL under features/snapshot/sql/ is written once, in DuckDB's dialect;
`SparkConnection` takes the same statements and parameters the DuckDB build sends to its connection,
writes the parameters as literals (features.sql_text.inline: Spark SQL has no `$name` parameters),
transpiles each statement with sqlglot (read="duckdb", write="spark") and runs it on a SparkSession.
It implements only the calls `features.snapshot.build` and `features.rules` make on a connection (`execute`,
`sql(...).df()`, `fetchone`), so the build's orchestration, the rule engine and the pandas
post-processing (fills, peer normalisation, the snapshot writer) are shared, not copied.

Statement by statement:
- `CREATE [OR REPLACE] TEMP TABLE t AS SELECT …`  → the query materialised at once (a local
  checkpoint: executor memory, spilling to disk), as DuckDB would, and named by a temp view;
- `CREATE [OR REPLACE] TEMP VIEW v AS SELECT …`   → a lazy temp view;
- `CREATE [OR REPLACE] TABLE t (col TYPE, …)`     → an empty typed frame; `INSERT INTO t SELECT …`
  appends to it (each insert is materialised, the table is their union);
- `COPY (SELECT …) TO 'file.parquet' (…)`         → one Parquet file written by Spark (zstd), with
  timestamps as plain (zone-less) timestamps like DuckDB's;
- anything else                                   → `spark.sql(...)`.

Decimal literals (`1.0`, `1.4826`) are DECIMAL in both dialects, but Spark keeps decimal arithmetic
(AVG of a decimal keeps only 4 more digits), DuckDB turns it into DOUBLE. The transpiler makes them
DOUBLE literals, so both engines compute in double precision. Amounts are summed as DECIMAL (exact,
so no sum depends on row order); DuckDB divides decimals in DOUBLE, Spark keeps 6 decimal places, so
the transpiler casts every dividend to DOUBLE, and decimal results reach pandas as float64.

Configuration: the master URL comes from `--spark-master`, else $FEIJIAN_SPARK_MASTER, else
`local[*]`. Spark needs a Java 17 runtime (Debian: openjdk-17-jre-headless).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from features.sql_text import Params, inline, run
from feijian.settings import (
    Workspace,
    spark_driver_memory,
    spark_master,
    spark_shuffle_partitions_env,
    spark_trace,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from features.snapshot.window import Window



def default_shuffle_partitions(master: str) -> int | None:
    """$FEIJIAN_SPARK_SHUFFLE_PARTITIONS, else 4 per local core; a cluster keeps its own setting.

    Spark's default of 200 shuffle partitions costs more in task overhead than a province's window
    needs on one machine: the build runs some 70 queries, each with shuffles.
    """
    env = spark_shuffle_partitions_env()
    if env:
        return env
    if not master.startswith("local"):
        return None
    cores = master[len("local["):-1] if master.startswith("local[") else "1"
    n = (os.cpu_count() or 2) if cores in ("*", "") else int(cores.split(",")[0])
    return 4 * n


# --- SQL --------------------------------------------------------------------------------------------


def _double_literal(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Literal) and node.is_number and any(ch in node.this for ch in ".eE"):
        return exp.cast(node.copy(), exp.DataType.build("DOUBLE"))
    return node


def _double_division(node: exp.Expression) -> exp.Expression:
    # In place (transform has already copied the tree), so a division nested in the dividend or the
    # divisor is still visited and cast too.
    if isinstance(node, exp.Div) and not (isinstance(node.this, exp.Cast) and node.this.is_type("double")):
        node.set("this", exp.cast(node.this, exp.DataType.build("DOUBLE")))
    return node


def to_spark(node: exp.Expression | str) -> str:
    """One DuckDB-dialect statement or query as Spark SQL; an untranslatable construct raises."""
    tree = sqlglot.parse_one(node, read="duckdb") if isinstance(node, str) else node
    tree = tree.transform(_double_literal).transform(_double_division)
    return tree.sql(dialect="spark", unsupported_level=ErrorLevel.RAISE)


# --- session ----------------------------------------------------------------------------------------


def session_builder(master: str, shuffle_partitions: int | None = None, local_dir: Path | None = None) -> Any:
    """A SparkSession builder with feijian's settings (UTC, no UI, loopback in local mode)."""
    from pyspark.sql import SparkSession

    loopback = master.startswith("local") or "//127.0.0.1:" in master or "//localhost:" in master
    if loopback:  # a local run or a cluster on this machine: nothing listens beyond 127.0.0.1
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    if not master.startswith("local"):  # executors in the workers' JVMs run this interpreter's Python
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master)
        .appName("feijian-features")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")  # month=2024-01 stays text
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.adaptive.enabled", "true")
        # a month-partitioned table has ~40 folders; listing them needs no Spark job of its own
        .config("spark.sql.sources.parallelPartitionDiscovery.threshold", "1000")
        .config("spark.driver.memory", spark_driver_memory())
    )
    if loopback:
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    if shuffle_partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(shuffle_partitions))
    if local_dir:
        builder = builder.config("spark.local.dir", str(local_dir))
    return builder


class _Relation:
    """What `con.sql(query)` returns: enough of DuckDB's relation for the build (`df`, `columns`)."""

    def __init__(self, frame: DataFrame) -> None:
        self._frame = frame

    @property
    def columns(self) -> list[str]:
        return list(self._frame.columns)

    def to_arrow_table(self) -> pa.Table:
        return self._frame.toArrow()

    def df(self) -> pd.DataFrame:
        t = time.perf_counter()
        try:
            return self._df()
        finally:
            if spark_trace():
                print(f"[spark {time.perf_counter() - t:6.1f}s] (query to pandas)", file=sys.stderr, flush=True)

    def _df(self) -> pd.DataFrame:
        # Arrow, not Spark's own pandas conversion: PySpark 4.3 warns that pandas 3 is not fully supported.
        table = self._frame.toArrow()
        as_float = pa.schema(
            [f.with_type(pa.float64()) if pa.types.is_decimal(f.type) else f for f in table.schema]
        )
        return table.cast(as_float).to_pandas()  # DuckDB's .df() turns DECIMAL into float64 too

    def fetchall(self) -> list[tuple]:
        return [tuple(r) for r in self._frame.collect()]

    def fetchone(self) -> tuple | None:
        rows = self._frame.take(1)
        return tuple(rows[0]) if rows else None


class SparkConnection:
    """A SparkSession behind the few connection calls the feature build makes (see the module doc)."""

    engine = "spark"
    # Views worth materialising on Spark: the window's fee lines are read by every fee-line rule and
    # three families. DuckDB streams the view each time at little cost; Spark would re-read the
    # Parquet and redo the join to the window's visits some twenty times.
    MATERIALISED_VIEWS = frozenset({"win_fee"})

    def __init__(self, spark: SparkSession, stop_on_close: bool = False) -> None:
        self.spark = spark
        self._stop_on_close = stop_on_close
        self._persisted: dict[str, DataFrame] = {}
        self._appendable: dict[str, DataFrame] = {}
        self._last: _Relation | None = None

    # -- the DuckDB-like surface --
    def execute(self, sql: str, params: Params | None = None) -> SparkConnection:
        t = time.perf_counter()
        tree = sqlglot.parse_one(inline(sql, params) if params else sql, read="duckdb")
        self._last = None
        if isinstance(tree, exp.Create):
            self._create(tree)
        elif isinstance(tree, exp.Insert):
            self._insert(tree)
        elif isinstance(tree, exp.Copy):
            self._copy(tree)
        else:
            self._last = _Relation(self.spark.sql(to_spark(tree)))
        self._trace(sql, t)
        return self

    def _trace(self, sql: str, started: float) -> None:
        if spark_trace():
            head = " ".join(sql.split())[:70]
            print(f"[spark {time.perf_counter() - started:6.1f}s] {head}", file=sys.stderr, flush=True)

    def sql(self, query: str, params: Params | None = None) -> _Relation:
        return _Relation(self.spark.sql(to_spark(inline(query, params) if params else query)))

    def fetchone(self) -> tuple | None:
        return self._last.fetchone() if self._last else None

    def fetchall(self) -> list[tuple]:
        return self._last.fetchall() if self._last else []

    def close(self) -> None:
        for frame in self._persisted.values():
            frame.unpersist()
        self._persisted.clear()
        self._appendable.clear()
        if self._stop_on_close:
            self.spark.stop()

    # -- registering frames --
    def register(self, name: str, frame: DataFrame | pd.DataFrame, materialise: bool = False) -> None:
        """Make `frame` readable as `name`; a materialised frame is computed now, like a DuckDB table.

        Materialising is a local checkpoint (executor memory, spilling to disk), which also cuts the
        frame's lineage: later queries see a leaf, not the whole plan again. Without that, Spark's
        analyser re-expands every view inside every rule and spends minutes on plans of seconds.
        """
        if isinstance(frame, pd.DataFrame):  # a small frame the driver computed (the rings' tables)
            frame = self.spark.createDataFrame(pa.Table.from_pandas(frame, preserve_index=False))
        old = self._persisted.pop(name, None)
        if materialise:
            frame = frame.localCheckpoint(eager=True)
            self._persisted[name] = frame
        frame.createOrReplaceTempView(name)
        if old is not None:
            old.unpersist()

    def _create(self, tree: exp.Create) -> None:
        target = tree.this
        kind = (tree.args.get("kind") or "").upper()
        query = tree.expression
        if isinstance(target, exp.Schema):  # CREATE TABLE t (col TYPE, ...)
            name = target.this.name
            ddl = ", ".join(to_spark(col) for col in target.expressions)
            frame = self.spark.createDataFrame([], schema=ddl)
            self._appendable[name] = frame
            self.register(name, frame)
            return
        name = target.name
        if query is None:
            raise NotImplementedError(f"Spark engine: CREATE {kind} {name} needs AS SELECT")
        frame = self.spark.sql(to_spark(query))
        self._appendable.pop(name, None)
        self.register(name, frame, materialise=(kind == "TABLE" or name in self.MATERIALISED_VIEWS))

    def _insert(self, tree: exp.Insert) -> None:
        name = tree.this.name if not isinstance(tree.this, exp.Schema) else tree.this.this.name
        if name not in self._appendable:
            raise NotImplementedError(f"Spark engine: INSERT INTO {name} needs a table made by CREATE TABLE (...)")
        base = self._appendable[name]
        from pyspark.sql import functions as F

        new = self.spark.sql(to_spark(tree.expression))
        new = new.select(
            [F.col(f"`{c}`").cast(t.dataType).alias(t.name) for c, t in zip(new.columns, base.schema, strict=True)]
        )
        part = new.localCheckpoint(eager=True)
        self._persisted[f"{name}#{uuid.uuid4().hex[:8]}"] = part
        self._appendable[name] = base.unionAll(part)
        self._appendable[name].createOrReplaceTempView(name)

    def _copy(self, tree: exp.Copy) -> None:
        from pyspark.sql import functions as F
        from pyspark.sql.types import TimestampType

        source = tree.this
        query = source.this if isinstance(source, exp.Subquery) else exp.select("*").from_(source)
        files = tree.args.get("files") or []
        if len(files) != 1:
            raise NotImplementedError("Spark engine: COPY needs one target file")
        path = Path(files[0].name)
        frame = self.spark.sql(to_spark(query))
        # Zone-less timestamps, as DuckDB writes them (the session runs in UTC, so wall time is kept).
        frame = frame.select(
            [
                F.col(f"`{f.name}`").cast("timestamp_ntz").alias(f.name) if isinstance(f.dataType, TimestampType)
                else F.col(f"`{f.name}`")
                for f in frame.schema
            ]
        )
        tmp = path.parent / f".spark-{uuid.uuid4().hex[:8]}"
        frame.coalesce(1).write.mode("overwrite").option("compression", "zstd").parquet(str(tmp))
        parts = sorted(tmp.glob("part-*.parquet"))
        if len(parts) != 1:
            raise RuntimeError(f"Spark wrote {len(parts)} files for {path.name}; expected one")
        parts[0].replace(path)
        shutil.rmtree(tmp)


def connect(ws: Workspace, master: str | None = None) -> SparkConnection:
    """A connection on the active SparkSession (a test's, a cluster job's), else a new one stopped on close."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return SparkConnection(active, stop_on_close=False)
    local_dir = ws.root / ".tmp" / "spark"
    local_dir.mkdir(parents=True, exist_ok=True)
    url = spark_master(master)
    spark = session_builder(url, shuffle_partitions=default_shuffle_partitions(url), local_dir=local_dir).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return SparkConnection(spark, stop_on_close=True)


# --- sources ----------------------------------------------------------------------------------------


def create_sources(con: SparkConnection, ws: Workspace, win: Window) -> None:
    """The same views as `features.snapshot.build.create_sources`, read by Spark's Parquet reader.

    Month partitions outside [prev_start, as_of) are pruned, rows on or after as_of filtered, the
    contract's required columns checked; `fac_tier` comes from the shared SQL.
    """
    from pyspark.sql import functions as F

    from features.snapshot.window import fac_tier_sql, month_bounds, require_columns, source_tables, table_folder

    first_month, last_month = month_bounds(win)
    for view, table, spec in source_tables(con, ws):
        folder = table_folder(ws.root, table)
        frame = con.spark.read.option("mergeSchema", "true").parquet(str(folder))
        if "month" in frame.columns:
            frame = frame.where(F.col("month").between(first_month, last_month)).drop("month")
        if spec.time_column:
            frame = frame.where(F.col(spec.time_column) < F.lit(win.as_of))
        require_columns(table, frame.columns)
        if table == "fee_list_d" and "trace_code" not in frame.columns:
            frame = frame.withColumn("trace_code", F.lit(None).cast("string"))
        con.register(view, frame)
    run(con, fac_tier_sql(), win.params())
