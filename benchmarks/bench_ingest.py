"""Ingest throughput: rows/s per table and for fee lines, peak RSS, and the DuckDB read floor.

    .venv/bin/python benchmarks/bench_ingest.py [--src DIR] [--fee-lines N] [--keep DIR]

Without --src a synthetic Parquet export of N fee lines (10 per settlement, consistent references,
reconciling amounts) is generated in a child process, so its memory does not count. The floor is
DuckDB reading every column of the same fee-line files (`min(COLUMNS(*))`): ingest / floor says how
much validation, pseudonymisation and the partitioned write cost on top of just reading.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, help="an export folder (e.g. a simulated province's input/)")
    ap.add_argument("--fee-lines", type=int, default=2_000_000)
    ap.add_argument("--keep", type=Path, help="keep the generated export here")
    ap.add_argument("--memory-limit", default="3GB")
    ap.add_argument("--generate-only", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate_only:
        generate(args.generate_only, args.fee_lines)
        return
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        src = args.src
        if src is None:
            src = args.keep or Path(tmp) / "export"
            if not (src / "fee_list_d").is_dir():
                t = time.perf_counter()
                subprocess.run([sys.executable, __file__, "--generate-only", str(src), "--fee-lines",
                                str(args.fee_lines)], check=True)
                print(f"generated {args.fee_lines:,} fee lines in {time.perf_counter() - t:.1f} s -> {src}")
        os.environ.setdefault("FEIJIAN_PSEUDONYM_KEY", "benchmark-key-not-secret-0123456789")
        from features.ingest import ingest

        fee_dir = src / "fee_list_d"
        floor = floor_seconds(fee_dir)
        t = time.perf_counter()
        report = ingest(src, Path(tmp) / "ws", max_reject_share=0.0, now="2026-01-01", memory_limit=args.memory_limit)
        elapsed = time.perf_counter() - t
        rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
        total = sum(r.read for r in report.tables.values())
        print(f"{'table':<16}{'read':>14}{'accepted':>14}{'quarantined':>13}")
        for r in report.tables.values():
            print(f"{r.table:<16}{r.read:>14,}{r.accepted:>14,}{r.quarantined:>13,}")
        fee = report.tables["fee_list_d"].read
        print(f"ingest: {elapsed:.1f} s for {total:,} rows ({total / elapsed:,.0f} rows/s overall); "
              f"fee lines {fee:,} -> {fee / elapsed:,.0f} fee lines/s (whole run)")
        print(f"floor: DuckDB reads all fee-line columns in {floor:.2f} s ({fee / floor:,.0f} rows/s); "
              f"ingest / floor = {elapsed / floor:.1f}x")
        print(f"peak RSS {rss_gb:.2f} GB (memory_limit {args.memory_limit}); reconciliation {report.reconciliation}")


if __name__ == "__main__":
    main()
