"""Ingest throughput at several sizes: rows/s, peak RSS, and two DuckDB floors to compare against.

    .venv/bin/python benchmarks/bench_ingest.py [--sizes 5M,10M,20M] [--src DIR] [--keep DIR]

For each size a synthetic Parquet export (10 fee lines per settlement, consistent references,
reconciling amounts) is generated in a child process, then measured in another child, so each size
gets its own peak RSS and generation does not count. Per size the table shows:

- ingest: the whole `ingest()` run into an empty workspace (fee lines/s and all rows/s);
- read floor: DuckDB reading every column of the fee-line files (`min(COLUMNS(*))`);
- write floor: DuckDB reading the fee-line files plus the very partitioned write ingest uses
  (`features.ingest.write.write_table`), with no validation, pseudonyms or quarantine.

ingest / floor says what validation, pseudonymisation and the write add on top of each floor.
With `--baseline-ref REF` each size is also ingested by the code at git REF (unpacked with
`git archive`, run in its own process just before this tree's run) and the speed ratio is printed:
on a shared machine only ratios measured in one run are comparable.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

# FEIJIAN_BENCH_CODE names another tree (the baseline's) to import features from instead of this one.
sys.path.insert(0, os.environ.get("FEIJIAN_BENCH_CODE") or str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
FACILITIES, DOCTORS, ITEMS = 300, 3000, 2000


def generate(out: Path, fee_lines: int) -> None:
    """Write out/<table>/part-*.parquet with DuckDB (native types, like the simulator)."""
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    n_setl = max(fee_lines // 10, 1)
    persons = max(n_setl // 5, 1)
    for t in ("fixmedins", "dr_info", "catalog", "mdtrt_d", "setl_d", "fee_list_d"):
        (out / t).mkdir(parents=True, exist_ok=True)

    def copy(sql: str, table: str, per_file: int = 2_000_000) -> None:
        con.execute(f"COPY ({sql}) TO '{out / table}' (FORMAT parquet, COMPRESSION zstd, PER_THREAD_OUTPUT false, "
                    f"FILE_SIZE_BYTES '256MB', FILENAME_PATTERN 'part-{{i}}', OVERWRITE_OR_IGNORE)")

    copy(f"""SELECT 'H' || lpad(i::VARCHAR, 5, '0') AS fixmedins_code, '医院' || i AS fixmedins_name,
        ['general', 'primary', 'clinic'][i % 3 + 1] AS fixmedins_type, lpad((i % 11 + 1)::VARCHAR, 2, '0') AS hosp_lv,
        'public' AS ownership, '5001' || (i % 40) AS admdvs, (i % 500)::BIGINT AS open_beds,
        DATE '2010-01-01' AS begndate FROM range({FACILITIES}) t(i)""", "fixmedins")
    copy(f"""SELECT 'D' || i AS dr_code, 'H' || lpad((i % {FACILITIES})::VARCHAR, 5, '0') AS fixmedins_code,
        '内科' AS dept, '主治医师' AS pro_tech_duty, DATE '2012-01-01' AS begndate FROM range({DOCTORS}) t(i)""",
         "dr_info")
    copy(f"""SELECT 'C' || i AS med_list_codg, '项目' || i AS name, '201' AS list_type, '04' AS med_chrgitm_type,
        '01' AS chrgitm_lv, 10.0 + i % 90 AS ref_price, NULL::DOUBLE AS price_cap, NULL::VARCHAR AS lmt_gend,
        NULL::BIGINT AS lmt_age_min, NULL::BIGINT AS lmt_age_max, NULL::DOUBLE AS max_cnt_per_day,
        NULL::DOUBLE AS max_cnt_per_period, NULL::BIGINT AS period_days, NULL::BIGINT AS min_hosp_lv_tier,
        NULL::VARCHAR AS package_codg, NULL::DOUBLE AS days_per_unit, NULL::BIGINT AS max_days_supply,
        false AS needs_trace_code FROM range({ITEMS}) t(i)""", "catalog")
    visit = f"""'M' || s AS mdtrt_id, 'P' || (s * 7919 % {persons}) AS psn_no,
        'H' || lpad((s % {FACILITIES})::VARCHAR, 5, '0') AS fixmedins_code,
        TIMESTAMP '2024-01-01 08:00:00' + to_days((s % 365)::INTEGER) AS t"""
    copy(f"""SELECT mdtrt_id, psn_no, '1101' || lpad(psn_no, 14, '0') AS certno, fixmedins_code, '11' AS med_type,
        t AS begntime, t AS endtime, 'E11.9' AS dscg_maindiag_code, NULL::VARCHAR AS drg_code,
        NULL::DOUBLE AS drg_weight, 'D' || (s % {DOCTORS}) AS atddr_no, '内科' AS dept, '1' AS gend,
        (s % 90)::BIGINT AS age, '310' AS insutype FROM (SELECT s, {visit} FROM range({n_setl}) r(s))""", "mdtrt_d")
    fee = f"""SELECT 'F' || i AS feedetl_sn, mdtrt_id, 'S' || s AS setl_id, psn_no, fixmedins_code,
        t AS fee_ocur_time, 'C' || (i * 31 % {ITEMS}) AS med_list_codg, '201' AS list_type, '04' AS med_chrgitm_type,
        '01' AS chrgitm_lv, (1 + i % 3)::DOUBLE AS cnt, (10.0 + i * 31 % {ITEMS} % 90) AS pric,
        (1 + i % 3) * (10.0 + i * 31 % {ITEMS} % 90) AS det_item_fee_sumamt, 'D' || (s % {DOCTORS}) AS bilg_dr_codg,
        'A01' AS bilg_dept_codg, NULL::VARCHAR AS trace_code
        FROM (SELECT i, i // 10 AS s FROM range({n_setl * 10}) r(i)), LATERAL (SELECT {visit})"""
    copy(fee, "fee_list_d")
    copy(f"""SELECT setl_id, mdtrt_id, psn_no, fixmedins_code, fee_ocur_time AS setl_time, sum(det_item_fee_sumamt)
        AS medfee_sumamt, round(sum(det_item_fee_sumamt) * 0.7, 2) AS hifp_pay,
        round(sum(det_item_fee_sumamt) * 0.7, 2) AS fund_pay_sumamt, 0.0 AS acct_pay,
        round(sum(det_item_fee_sumamt) * 0.3, 2) AS psn_cash_pay, '0' AS refd_setl_flag
        FROM read_parquet('{out / 'fee_list_d'}/*.parquet')
        GROUP BY setl_id, mdtrt_id, psn_no, fixmedins_code, fee_ocur_time""", "setl_d")


def floor_seconds(fee_dir: Path) -> float:
    con = duckdb.connect()
    t = time.perf_counter()
    con.sql(f"SELECT min(COLUMNS(*)) FROM read_parquet('{fee_dir}/**/*.parquet')").fetchall()
    return time.perf_counter() - t


def write_floor_seconds(fee_dir: Path, out: Path, memory_limit: str) -> float:
    """Plain read + the partitioned write ingest uses (same function, same settings), no validation."""
    from features.ingest.pipeline import connect
    from features.ingest.write import write_table
    from features.schema import TABLES

    (out / "duckdb").mkdir(parents=True, exist_ok=True)
    con = connect(out, memory_limit, None)
    cols = ", ".join(c.name for c in TABLES["fee_list_d"].columns)
    t = time.perf_counter()
    write_table(con, TABLES["fee_list_d"], f"SELECT {cols} FROM read_parquet('{fee_dir}/**/*.parquet')", out)
    elapsed = time.perf_counter() - t
    con.close()
    return elapsed


def measure(src: Path, memory_limit: str, floors: bool = True) -> dict[str, object]:
    """One ingest into a fresh workspace, then the two floors (after the RSS reading)."""
    os.environ.setdefault("FEIJIAN_PSEUDONYM_KEY", "benchmark-key-not-secret-0123456789")
    from features.ingest.pipeline import ingest

    with tempfile.TemporaryDirectory(prefix="bench-ingest-ws-") as tmp:
        t, c = time.perf_counter(), time.process_time()
        report = ingest(src, Path(tmp) / "ws", max_reject_share=0.0, now="2026-01-01", memory_limit=memory_limit)
        elapsed, cpu = time.perf_counter() - t, time.process_time() - c
        rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
        ws_bytes = sum(f.stat().st_size for f in (Path(tmp) / "ws" / "raw" / "fee_list_d").rglob("*.parquet"))
    fee_dir = src / "fee_list_d"
    read_floor = floor_seconds(fee_dir) if floors else float("nan")
    write_floor = float("nan")
    if floors:
        with tempfile.TemporaryDirectory(prefix="bench-ingest-floor-") as tmp:
            write_floor = write_floor_seconds(fee_dir, Path(tmp), memory_limit)
    code = str(Path(sys.modules["features"].__file__).parents[1])
    return {"elapsed": elapsed, "cpu": cpu, "rss_gb": rss_gb, "code": code, "read_floor": read_floor,
            "write_floor": write_floor,
            "fee_bytes": ws_bytes, "rows": sum(r.read for r in report.tables.values()),
            "fee": report.tables["fee_list_d"].read,
            "tables": {r.table: [r.read, r.accepted, r.quarantined] for r in report.tables.values()}}


def _size(text: str) -> int:
    text = text.strip().upper().replace("_", "")
    scale = {"K": 1_000, "M": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("KM")) * scale)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="5M,10M,20M", help="fee-line counts, comma-separated (default 5M,10M,20M)")
    ap.add_argument("--fee-lines", type=_size, help="a single size (same as --sizes N)")
    ap.add_argument("--src", type=Path, help="measure this export folder instead of generating (one size)")
    ap.add_argument("--keep", type=Path, help="keep the generated exports here (<keep>/<size>/), reused if present")
    ap.add_argument("--memory-limit", default="3GB")
    ap.add_argument("--baseline-ref", help="also ingest each size with the code at this git ref; print the ratio")
    ap.add_argument("--generate-only", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--measure-only", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--no-floors", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate_only:
        generate(args.generate_only, args.fee_lines)
        return
    if args.measure_only:
        print(json.dumps(measure(args.measure_only, args.memory_limit, floors=not args.no_floors)))
        return
    sizes = [args.fee_lines] if args.fee_lines else [_size(x) for x in args.sizes.split(",") if x.strip()]
    results, bases = [], []

    def child(src: Path, code: Path | None) -> dict:
        env = dict(os.environ)
        cmd = [sys.executable, __file__, "--measure-only", str(src), "--memory-limit", args.memory_limit]
        if code is not None:  # the baseline: its own code first on the path, no floors (they are this tree's)
            env["PYTHONPATH"] = env["FEIJIAN_BENCH_CODE"] = str(code)
            cmd.append("--no-floors")
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=code or ROOT).stdout
        return json.loads(out.strip().splitlines()[-1])

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        base_code = None
        if args.baseline_ref:
            base_code = Path(tmp) / "baseline-code"
            base_code.mkdir()
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline_ref], check=True,
                                     capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(base_code)], input=archive, check=True)
        for n in [0] if args.src else sizes:
            src = args.src or (args.keep or Path(tmp)) / f"{n}"
            if not args.src and not (src / "fee_list_d").is_dir():
                t = time.perf_counter()
                subprocess.run([sys.executable, __file__, "--generate-only", str(src), "--fee-lines", str(n)],
                               check=True)
                print(f"generated {n:,} fee lines in {time.perf_counter() - t:.1f} s -> {src}", flush=True)
            if base_code is not None:
                b = child(src, base_code)
                bases.append(b)
                print(f"baseline {args.baseline_ref} ({b['code']}): {b['fee']:,} fee lines: "
                      f"ingest {b['elapsed']:.1f} s (CPU {b['cpu']:.1f} s), peak RSS {b['rss_gb']:.2f} GB, "
                      f"tables {b['tables']}", flush=True)
            r = child(src, None)
            results.append(r)
            print(f"this tree ({r['code']}): {r['fee']:,} fee lines: ingest {r['elapsed']:.1f} s "
                  f"(CPU {r['cpu']:.1f} s), peak RSS {r['rss_gb']:.2f} GB, tables {r['tables']}", flush=True)
            if not args.src and not args.keep:
                shutil.rmtree(src, ignore_errors=True)
    print()
    print(f"{'fee lines':>12}{'rows':>12}{'ingest s':>10}{'fee/s':>12}{'rows/s':>12}{'peak RSS':>10}"
          f"{'read fl s':>11}{'/read':>7}{'write fl s':>12}{'/write':>8}{'fee MB':>8}")
    for r in results:
        fee, el = r["fee"], r["elapsed"]
        print(f"{fee:>12,}{r['rows']:>12,}{el:>10.1f}{fee / el:>12,.0f}{r['rows'] / el:>12,.0f}"
              f"{r['rss_gb']:>8.2f}GB{r['read_floor']:>11.2f}{el / r['read_floor']:>6.1f}x"
              f"{r['write_floor']:>12.2f}{el / r['write_floor']:>7.1f}x{r['fee_bytes'] / 1e6:>8.0f}")
    print(f"(memory_limit {args.memory_limit}; {os.cpu_count()} cores; fee/s and rows/s are whole-run rates; "
          "write floor = DuckDB read + the same partitioned write, no validation)")
    if bases:
        print()
        print(f"{'fee lines':>12}{'base s':>9}{'base/s':>11}{'base GB':>9}{'new s':>8}{'new/s':>11}{'new GB':>8}"
              f"{'speed-up':>10}{'CPU ratio':>11}")
        for b, r in zip(bases, results, strict=True):
            fee = r["fee"]
            print(f"{fee:>12,}{b['elapsed']:>9.1f}{fee / b['elapsed']:>11,.0f}{b['rss_gb']:>9.2f}{r['elapsed']:>8.1f}"
                  f"{fee / r['elapsed']:>11,.0f}{r['rss_gb']:>8.2f}{b['elapsed'] / r['elapsed']:>9.2f}x"
                  f"{b['cpu'] / r['cpu']:>10.2f}x")
        print(f"(baseline = git {args.baseline_ref}, run just before this tree on the same export; "
              f"load average now {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
