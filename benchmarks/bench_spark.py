"""Time the Spark engine against DuckDB on the same workspaces, in the same run.

For each size: simulate and ingest a province (or reuse one from --out), then build the same
12-month snapshot with
  duckdb     `build_snapshot(engine="duckdb")` (2 threads)
  spark      `build_snapshot(engine="spark")` with each master in --masters: local[1], local[2], and
             cluster1, cluster2 (a standalone cluster on 127.0.0.1 of 1 or 2 one-core workers,
             benchmarks/spark_cluster.py, started for the measurement and stopped after it)
each in its own process. Spark's session start (JVM, ~10 s) is timed apart from the build. Prints
seconds, window fee lines per second, the ratio to DuckDB and Spark's speed-up from 1 to 2 cores,
and CPU seconds (the Python process and, for Spark, its JVM): on a shared machine wall time moves
with the neighbours' load, CPU time much less, and lines per CPU-second is what sizes a cluster.

    .venv/bin/python benchmarks/bench_spark.py --sizes 300,1200 --out /tmp/spark-bench \
        --masters local[1],local[2],cluster1,cluster2

A cluster's CPU seconds add its processes' (master, workers, the executors they launch) to the
driver's; its shuffle partitions are 4 per worker core, as local mode's are per core.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import in_fresh_process
from benchmarks.spark_cluster import StandaloneCluster

WINDOW_MONTHS = 12


def run_duckdb(ws: str, as_of: str) -> dict:
    from features.snapshot.build import build_snapshot

    t, cpu = time.perf_counter(), time.process_time()
    snap = build_snapshot(Path(ws), date.fromisoformat(as_of), WINDOW_MONTHS)
    return {
        "build_s": time.perf_counter() - t,
        "cpu_s": time.process_time() - cpu,
        "evidence": snap.n_evidence,
        "steps": _steps(snap.seconds),
    }


def _jvm_cpu() -> float:
    """CPU seconds of this process's children (the Spark JVM in local mode)."""
    import psutil

    return sum(sum(c.cpu_times()[:2]) for c in psutil.Process().children(recursive=True))


def run_spark(ws: str, as_of: str, master: str) -> dict:
    from features.snapshot.build import build_snapshot
    from features.snapshot.spark import default_shuffle_partitions, session_builder

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    t = time.perf_counter()
    local_dir = Path(ws) / ".tmp" / "spark"
    local_dir.mkdir(parents=True, exist_ok=True)
    spark = session_builder(master, default_shuffle_partitions(master), local_dir).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    start_s = time.perf_counter() - t
    t, cpu, jvm = time.perf_counter(), time.process_time(), _jvm_cpu()
    snap = build_snapshot(Path(ws), date.fromisoformat(as_of), WINDOW_MONTHS, engine="spark")
    build_s = time.perf_counter() - t
    cpu_s = time.process_time() - cpu + _jvm_cpu() - jvm
    spark.stop()
    return {
        "build_s": build_s,
        "cpu_s": cpu_s,
        "session_s": start_s,
        "evidence": snap.n_evidence,
        "steps": _steps(snap.seconds),
    }


def _steps(seconds: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 1) for k, v in sorted(seconds.items(), key=lambda kv: -kv[1])[:5]}


def _child(fn_name: str, args: tuple, queue: mp.Queue) -> None:
    t = time.perf_counter()
    try:
        out = globals()[fn_name](*args)
    except Exception as exc:  # report, keep the other measurements
        out = {"error": repr(exc)[:300]}
    queue.put({"wall_s": time.perf_counter() - t, **out})


def measure(fn_name: str, *args: object) -> dict:
    return in_fresh_process(_child, fn_name, args)


def _tree_cpu(pids: list[int]) -> float:
    """CPU seconds of these processes, of the children they waited for (an executor that has exited
    counts in its worker's children times) and of the children still running."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            p = psutil.Process(pid)
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
            live = p.children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        for q in live:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += sum(q.cpu_times()[:2])
    return total


def measure_on_cluster(ws: Path, as_of: str, workers: int) -> dict:
    """One Spark build on a fresh standalone cluster of `workers` one-core workers."""
    with StandaloneCluster(ws.parent / f"cluster{workers}", workers=workers, cores=1, memory="3g") as cluster:
        os.environ["FEIJIAN_SPARK_SHUFFLE_PARTITIONS"] = str(4 * workers)
        try:
            pids = [p.pid for p in cluster.processes]
            before = _tree_cpu(pids)
            out = measure("run_spark", str(ws), as_of, cluster.url)
            if "cpu_s" in out:  # the executors' CPU is the cluster's, not the driver's children
                out["cpu_s"] += _tree_cpu(pids) - before
            return out
        finally:
            os.environ.pop("FEIJIAN_SPARK_SHUFFLE_PARTITIONS", None)


def window_lines(ws: Path, as_of: str) -> int:
    import duckdb

    from features.snapshot.build import Window, source_expr

    win = Window(date.fromisoformat(as_of), WINDOW_MONTHS)
    sql = (
        f"SELECT COUNT(*) FROM {source_expr(ws, 'fee_list_d')} WHERE month BETWEEN '{win.start:%Y-%m}' "
        f"AND '{win.as_of:%Y-%m}' AND fee_ocur_time >= DATE '{win.start}' AND fee_ocur_time < DATE '{win.as_of}'"
    )
    return int(duckdb.sql(sql).fetchall()[0][0])


def workspace(size: str, root: Path, seed: int) -> tuple[Path, str, int]:
    """Reuse root/ws-<size> when a previous run left its description, else simulate and ingest."""
    info = root / f"ws-{size}.json"
    if info.exists():
        d = json.loads(info.read_text())
        return Path(d["ws"]), d["as_of"], int(d["fee_lines"])
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_features import prepare

    ws, as_of, n = prepare(size, root, seed)
    info.write_text(json.dumps({"ws": str(ws), "as_of": as_of, "fee_lines": n}))
    return ws, as_of, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="300,1200", help="comma list: facilities count, demo or large")
    ap.add_argument("--masters", default="local[1],local[2]")
    ap.add_argument("--out", default="/tmp/spark-bench")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in args.sizes.split(","):
        ws, as_of, n_all = workspace(size, root, args.seed)
        n_win = window_lines(ws, as_of)
        print(f"size {size}: {n_all:,} fee lines, {n_win:,} in the window", flush=True)
        row = {"size": size, "fee_lines_total": n_all, "window_lines": n_win}
        row["duckdb"] = measure("run_duckdb", str(ws), as_of)
        print("  duckdb", json.dumps(row["duckdb"]), flush=True)
        for master in args.masters.split(","):
            if master.startswith("cluster"):
                row[master] = measure_on_cluster(ws, as_of, int(master[len("cluster"):] or 2))
            else:
                row[master] = measure("run_spark", str(ws), as_of, master)
            print(f"  {master}", json.dumps(row[master]), flush=True)
        rows.append(row)
        (root / "results.json").write_text(json.dumps(rows, indent=2))
    print_table(rows, args.masters.split(","))


def print_table(rows: list[dict], masters: list[str]) -> None:
    print("\n| size | window lines | engine | build s | lines/s | ÷ DuckDB | speed-up 1→2 | CPU s | lines/CPU-s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        n = r["window_lines"]
        duck = r["duckdb"]
        cells = [("DuckDB (2 threads)", duck)] + [(f"Spark {m}", r.get(m, {"error": "not run"})) for m in masters]
        for i, (name, m) in enumerate(cells):
            head = f"| {r['size']} | {n:,} |" if i == 0 else "| | |"
            if "build_s" not in m:
                print(f"{head} {name} | failed: {m.get('error')} | | | | | |")
                continue
            s = m["build_s"]
            speed = ""
            one = {"local[2]": "local[1]", "cluster2": "cluster1"}.get(name.removeprefix("Spark "))
            if one and "build_s" in r.get(one, {}):  # the same kind of master with one core, then two
                speed = f"{r[one]['build_s'] / s:.2f}×"
            cpu = m.get("cpu_s")
            start = f" (+{m['session_s']:.0f} s start)" if "session_s" in m else ""
            print(
                f"{head} {name}{start} | {s:.1f} | {n / s:,.0f} | {s / duck['build_s']:.1f}× | {speed} "
                f"| {cpu or float('nan'):.1f} | {n / cpu if cpu else float('nan'):,.0f} |"
            )

if __name__ == "__main__":
    main()
