"""Time the feature + rule pipeline against two baselines measured in the same run.

For each size: simulate a province, ingest it, then measure
  pipeline  `features.snapshot.build_snapshot` (facility + physician + rules, 12-month window)
  pandas    the same core aggregates written the way a data scientist would (read the columns,
            groupby per visit, per facility, per physician, readmissions by shift)
  floor     DuckDB reading once every column of the window the pipeline reads
and print seconds, fee lines per second, peak memory (each in its own process) and the ratios.

    .venv/bin/python benchmarks/bench_features.py --sizes 300,1200,large --out /tmp/feijian-bench
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import sys
import threading
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import in_fresh_process

WINDOW_MONTHS = 12


class PeakRSS:
    """Samples this process's RSS every 20 ms. (ru_maxrss is no use here: Linux keeps it across
    execve, so a spawned child would report its parent's peak.)"""

    def __init__(self) -> None:
        import psutil

        self._proc = psutil.Process()
        self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def stop_gb(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / 1024**3


def _run_in_child(fn_name: str, args: tuple, queue: mp.Queue) -> None:
    rss = PeakRSS()
    t = time.perf_counter()
    extra = globals()[fn_name](*args)
    queue.put({"seconds": time.perf_counter() - t, "peak_gb": rss.stop_gb(), **(extra or {})})


def measure(fn_name: str, *args: object) -> dict:
    """Run in a fresh process so each peak RSS is its own."""
    return in_fresh_process(_run_in_child, fn_name, args)


def run_pipeline(ws: str, as_of: str) -> dict:
    from features.snapshot.build import build_snapshot

    snap = build_snapshot(Path(ws), date.fromisoformat(as_of), WINDOW_MONTHS)
    return {"evidence": snap.n_evidence, "steps": {k: round(v, 2) for k, v in snap.seconds.items()}}


def _window_sql(ws: str, as_of: str) -> tuple[str, str, str]:
    from features.snapshot.build import Window, source_expr

    win = Window(date.fromisoformat(as_of), WINDOW_MONTHS)
    lo, hi = win.start.isoformat(), win.as_of.isoformat()
    months = f"month BETWEEN '{win.start:%Y-%m}' AND '{win.as_of:%Y-%m}'"
    fee = (
        "SELECT mdtrt_id, psn_no, fixmedins_code, fee_ocur_time, med_list_codg, list_type, med_chrgitm_type, "
        "chrgitm_lv, cnt, det_item_fee_sumamt, bilg_dr_codg, trace_code "
        f"FROM {source_expr(Path(ws), 'fee_list_d')} WHERE {months} "
        f"AND fee_ocur_time >= DATE '{lo}' AND fee_ocur_time < DATE '{hi}'"
    )
    vis = (
        "SELECT mdtrt_id, psn_no, fixmedins_code, med_type, begntime, endtime, dscg_maindiag_code, drg_code, "
        "drg_weight, atddr_no, gend, age "
        f"FROM {source_expr(Path(ws), 'mdtrt_d')} WHERE {months} AND begntime >= DATE '{lo}' AND endtime < DATE '{hi}'"
    )
    setl = (
        "SELECT mdtrt_id, fund_pay_sumamt, medfee_sumamt "
        f"FROM {source_expr(Path(ws), 'setl_d')} WHERE {months} "
        f"AND setl_time >= DATE '{lo}' AND setl_time < DATE '{hi}'"
    )
    return fee, vis, setl


def run_floor(ws: str, as_of: str) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 2")
    n = 0
    for sql in _window_sql(ws, as_of):
        # force every column to be read and decoded
        cols = [c for c in con.sql(sql).columns]
        agg = ", ".join(f"COUNT({c})" for c in cols)
        n += int(con.execute(f"SELECT {agg} FROM ({sql})").fetchone()[0])
    return {"rows": n}


def run_pandas(ws: str, as_of: str) -> dict:
    """What a data scientist would write: load the window, groupby, merge."""
    import duckdb

    con = duckdb.connect()
    fee_sql, vis_sql, setl_sql = _window_sql(ws, as_of)
    fee = con.sql(fee_sql).df()
    vis = con.sql(vis_sql).df()
    setl = con.sql(setl_sql).df()
    fee["drug"] = fee["det_item_fee_sumamt"].where(fee["list_type"].isin(["101", "102"]), 0)
    fee["test"] = fee["det_item_fee_sumamt"].where(fee["med_chrgitm_type"].isin(["03", "04"]), 0)
    per_visit = fee.groupby("mdtrt_id").agg(
        fee_total=("det_item_fee_sumamt", "sum"), drug=("drug", "sum"), test=("test", "sum"), n_lines=("cnt", "size")
    )
    pay = setl.groupby("mdtrt_id")["fund_pay_sumamt"].sum().rename("fund_pay")
    v = vis.merge(per_visit, on="mdtrt_id", how="left").merge(pay, on="mdtrt_id", how="left")
    v["inpatient"] = v["med_type"].isin(["21", "52"])
    v["los"] = (v["endtime"].dt.normalize() - v["begntime"].dt.normalize()).dt.days.clip(lower=1)
    ip = v[v["inpatient"]].sort_values(["fixmedins_code", "psn_no", "begntime"])
    prev_end = ip.groupby(["fixmedins_code", "psn_no"])["endtime"].shift()
    ip = ip.assign(gap=(ip["begntime"].dt.normalize() - prev_end.dt.normalize()).dt.days)
    fac = v.groupby("fixmedins_code").agg(
        n_visits=("mdtrt_id", "size"),
        n_patients=("psn_no", "nunique"),
        fund_pay=("fund_pay", "sum"),
        fee_total=("fee_total", "sum"),
        drug=("drug", "sum"),
        test=("test", "sum"),
    )
    fac["readmit_0_7"] = ip.assign(r=ip["gap"].between(0, 7)).groupby("fixmedins_code")["r"].mean()
    fac["alos"] = ip.groupby("fixmedins_code")["los"].mean()
    dr = fee.groupby("bilg_dr_codg").agg(amount=("det_item_fee_sumamt", "sum"), patients=("psn_no", "nunique"))
    return {"facilities": len(fac), "physicians": len(dr), "fee_lines": len(fee)}


def prepare(size: str, root: Path, seed: int, reuse: bool = False) -> tuple[Path, str, int]:
    from features.ingest.pipeline import ingest
    from features.ingest.pseudonym import ensure_demo_key
    from simulator import simulate

    prov, ws = root / f"province-{size}", root / f"ws-{size}"
    if reuse and (prov / "meta.json").exists() and (ws / "raw").is_dir():
        print(f"  reusing {ws}", flush=True)
        return ws, json.loads((prov / "meta.json").read_text())["next_round_date"], _count_lines(ws)
    shutil.rmtree(prov, ignore_errors=True)
    shutil.rmtree(ws, ignore_errors=True)
    t = time.perf_counter()
    simulate(prov, seed=seed, scale=size if size in ("demo", "large") else int(size))
    print(f"  simulated {size} in {time.perf_counter() - t:.0f} s", flush=True)
    ensure_demo_key(ws)
    t = time.perf_counter()
    ingest(prov / "input", ws)
    print(f"  ingested in {time.perf_counter() - t:.0f} s", flush=True)
    meta = json.loads((prov / "meta.json").read_text())
    return ws, meta["next_round_date"], _count_lines(ws)


def _count_lines(ws: Path) -> int:
    import duckdb

    from features.snapshot.build import source_expr

    return int(duckdb.sql(f"SELECT COUNT(*) FROM {source_expr(ws, 'fee_list_d')}").fetchall()[0][0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="300,1200,large", help="comma list: facilities count, demo or large")
    ap.add_argument("--out", default="/tmp/feijian-bench-features")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip-pandas-above", type=int, default=60_000_000, help="fee lines; pandas needs ~250 B/line")
    ap.add_argument("--reuse", action="store_true", help="reuse provinces already simulated and ingested in --out")
    args = ap.parse_args()
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in args.sizes.split(","):
        print(f"size {size}", flush=True)
        ws, as_of, n_all = prepare(size, root, args.seed, args.reuse)
        floor = measure("run_floor", str(ws), as_of)
        pipe = measure("run_pipeline", str(ws), as_of)
        pand = measure("run_pandas", str(ws), as_of) if n_all <= args.skip_pandas_above else None
        rows.append({"size": size, "fee_lines_total": n_all, "floor": floor, "pipeline": pipe, "pandas": pand})
        print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    print(
        "\n| size | fee lines (all) | window lines | pipeline s | lines/s | peak GB | pandas s | pandas GB "
        "| floor s | pandas÷pipeline | pipeline÷floor |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        p, f, pd_ = r["pipeline"], r["floor"], r["pandas"]
        win_lines = pd_["fee_lines"] if pd_ else None
        lps = (win_lines or r["fee_lines_total"] / 3) / p["seconds"]
        print(
            f"| {r['size']} | {r['fee_lines_total']:,} | {win_lines or '—':,} | {p['seconds']:.1f} | {lps:,.0f} | "
            f"{p['peak_gb']:.2f} | {pd_['seconds'] if pd_ else float('nan'):.1f} | "
            f"{pd_['peak_gb'] if pd_ else float('nan'):.2f} | {f['seconds']:.2f} | "
            f"{(pd_['seconds'] / p['seconds']) if pd_ else float('nan'):.1f}× | {p['seconds'] / f['seconds']:.1f}× |"
        )
    (root / "results.json").write_text(json.dumps(rows, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
