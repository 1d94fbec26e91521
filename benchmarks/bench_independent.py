"""A whole simulated province exported the way an independent province would, loaded through the
example adapter alone, against the same province loaded from the contract's layout (issue #21).

    .venv/bin/python benchmarks/bench_independent.py --province province/input

The simulator's export (contract layout, Parquet) is rewritten as CSV in the layout
`features/ingest/adapters/example_independent.toml` reads:
- its own file and column names;
- its own codes: facility types hospital/primary/pharmacy, levels 0–3 with a grade, 公立/民营, 男/女,
  `tip-off`, item categories by name;
- a birth date instead of an age, and settlement amounts in fen;
- the knowledge base's rules in its own columns, such as a minimum interval in days instead of a
  count per period;
- no `insp_type` and no `certno`;
- compact dates.

Both exports are ingested under one pseudonym key. Every table is compared row for row on every
column, except the two the province does not export and its facility type, whose list is coarser
(tcm, specialty and maternal-child hospitals are `hospital`; clinics are `primary`). That one is
compared with the contract's type folded the same way.

Prints rows read, quarantined and differing per table, and the two ingests' times. Exits 1 on any
quarantined or differing row.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from features.ingest.pipeline import ingest
from features.schema import TABLES

ADAPTER = Path(__file__).resolve().parents[1] / "features" / "ingest" / "adapters" / "example_independent.toml"
CATEGORY = ADAPTER.parent / "codes" / "hb_item_category.csv"
FOLD_TYPE = ("CASE fixmedins_type WHEN 'pharmacy' THEN 'pharmacy' WHEN 'primary' THEN 'primary' "
             "WHEN 'clinic' THEN 'primary' ELSE 'hospital' END")
LEVEL = ("CASE hosp_lv WHEN '01' THEN '3' WHEN '02' THEN '3' WHEN '03' THEN '3' WHEN '04' THEN '3' WHEN '05' "
         "THEN '2' WHEN '06' THEN '2' WHEN '07' THEN '2' WHEN '11' THEN '0' ELSE '1' END")
GRADE = ("CASE hosp_lv WHEN '01' THEN '特' WHEN '11' THEN '' WHEN '02' THEN '甲' WHEN '05' THEN '甲' WHEN '08' "
         "THEN '甲' WHEN '03' THEN '乙' WHEN '06' THEN '乙' WHEN '09' THEN '乙' ELSE '丙' END")
TS = "strftime({}, '%Y%m%d%H%M%S')"
DAY = "strftime({}, '%Y%m%d')"
FEN = "CAST(round({} * 100) AS BIGINT)"

EXPORT = {  # province file -> SELECT over the contract table (read as `t`)
    "admdvs": ("admdvs", "SELECT * FROM t"),
    "jigou": ("fixmedins", f"""SELECT fixmedins_code AS org_code, fixmedins_name AS org_name, {FOLD_TYPE} AS org_type,
        {LEVEL} AS level, {GRADE} AS grade, CASE ownership WHEN 'public' THEN '公立' ELSE '民营' END AS owner,
        admdvs AS region, open_beds AS beds, {DAY.format('begndate')} AS since FROM t"""),
    "doctors": ("dr_info", f"""SELECT dr_code AS doc_id, fixmedins_code AS org_code, dept AS dept_name,
        pro_tech_duty AS title, {DAY.format('begndate')} AS since FROM t"""),
    "kb": ("catalog", f"""SELECT med_list_codg AS item_code, name AS item_name, list_type AS list_class,
        c.category, CASE chrgitm_lv WHEN '01' THEN '甲类' WHEN '02' THEN '乙类' ELSE '自费' END AS pay_class,
        {FEN.format('ref_price')} AS price_fen, price_cap,
        CASE lmt_gend WHEN '1' THEN '男' WHEN '2' THEN '女' END AS sex_limit, lmt_age_min AS age_min,
        lmt_age_max AS age_max, max_cnt_per_day AS max_per_day, period_days AS min_interval_days,
        CASE min_hosp_lv_tier WHEN 3 THEN '三级' WHEN 2 THEN '二级' WHEN 1 THEN '一级' END AS min_hosp_lv,
        package_codg AS package_of, days_per_unit AS days_per_pack, max_days_supply AS max_days,
        CASE WHEN needs_trace_code THEN '是' ELSE '否' END AS trace_required
        FROM t JOIN read_csv('{CATEGORY}', all_varchar = true) c ON c.med_chrgitm_type = t.med_chrgitm_type"""),
    "visits": ("mdtrt_d", f"""SELECT mdtrt_id AS visit_id, psn_no AS person, fixmedins_code AS org_code,
        med_type AS visit_type, {TS.format('begntime')} AS start, {TS.format('endtime')} AS "end",
        dscg_maindiag_code AS diag, drg_code AS drg, drg_weight, atddr_no AS doc_id, dept AS dept_name,
        CASE gend WHEN '1' THEN '男' ELSE '女' END AS sex, (year(begntime) - age) || '0101' AS birth,
        insutype AS scheme FROM t"""),
    "settlements": ("setl_d", f"""SELECT setl_id AS settle_id, mdtrt_id AS visit_id, psn_no AS person,
        fixmedins_code AS org_code, {TS.format('setl_time')} AS settled, {FEN.format('medfee_sumamt')} AS total_fen,
        {FEN.format('hifp_pay')} AS pool_fen, {FEN.format('fund_pay_sumamt')} AS fund_fen,
        {FEN.format('acct_pay')} AS account_fen, {FEN.format('psn_cash_pay')} AS cash_fen,
        CASE refd_setl_flag WHEN '1' THEN 'Y' ELSE 'N' END AS refund FROM t"""),
    "fees": ("fee_list_d", f"""SELECT feedetl_sn AS line_id, mdtrt_id AS visit_id, setl_id AS settle_id,
        psn_no AS person, fixmedins_code AS org_code, {TS.format('fee_ocur_time')} AS "at",
        med_list_codg AS item_code, list_type AS list_class, med_chrgitm_type AS item_type, chrgitm_lv AS pay_level,
        cnt AS qty, pric AS unit_price, det_item_fee_sumamt AS amount, bilg_dr_codg AS doc_id,
        bilg_dept_codg AS dept_code, trace_code AS trace FROM t"""),
    "findings": ("inspections", f"""SELECT insp_id AS case_id, fixmedins_code AS org_code, batch AS round,
        {DAY.format('insp_date')} AS visited, {DAY.format('period_begn')} AS "from", {DAY.format('period_end')} AS "to",
        replace(selection, '_', '-') AS how_chosen, violation_types AS violations, amount_involved AS involved,
        amount_recovered AS recovered, fine_amount AS fine, agreement_action AS action, referral AS to_police
        FROM t"""),
    "points": ("insp_dr_points", "SELECT insp_id AS case_id, dr_code AS doc_id, points FROM t"),
}
NOT_EXPORTED = {"mdtrt_d": ("certno",), "inspections": ("insp_type",)}


def export(province: Path, out: Path) -> None:
    out.mkdir(parents=True)
    for name, (table, select) in EXPORT.items():
        src = province / table
        if not src.exists():
            continue
        con = duckdb.connect()
        con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{src}/**/*.parquet')")
        con.execute(f"COPY ({select}) TO '{out / name}.csv' (HEADER, DELIMITER ',')")
        con.close()


def stored(ws: Path, table: str) -> str:
    cols = ", ".join(c.name for c in TABLES[table].columns if c.name not in NOT_EXPORTED.get(table, ()))
    if table == "fixmedins":
        cols = cols.replace("fixmedins_type", f"{FOLD_TYPE} AS fixmedins_type")  # both folded alike
    return f"SELECT {cols} FROM read_parquet('{ws}/raw/{table}/**/*.parquet', hive_partitioning = true)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--province", type=Path, required=True, help="a simulated province's input/ folder")
    args = ap.parse_args()
    os.environ.setdefault("FEIJIAN_PSEUDONYM_KEY", secrets.token_hex(32))  # one throwaway key for both ingests
    with tempfile.TemporaryDirectory(prefix="bench-independent-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        export(args.province, root / "hb")
        print(f"independent export written in {time.perf_counter() - t0:.1f} s: "
              + ", ".join(f"{p.stem} {p.stat().st_size / 1e6:.0f} MB" for p in sorted((root / "hb").iterdir())))
        t0 = time.perf_counter()
        rep = ingest(root / "hb", root / "ws-hb", adapter=ADAPTER, now="2025-06-30", max_reject_share=1.0)
        t_hb = time.perf_counter() - t0
        t0 = time.perf_counter()
        ingest(args.province, root / "ws-ref", now="2025-06-30")
        t_ref = time.perf_counter() - t0
        print(f"ingest with the adapter: {t_hb:.1f} s · the contract's own layout: {t_ref:.1f} s")
        bad = 0
        print(f"{'table':<15} {'read':>11} {'quarantined':>12} {'differing':>10}")
        for table, r in rep.tables.items():
            a, b = stored(root / "ws-hb", table), stored(root / "ws-ref", table)
            diff = duckdb.sql(f"SELECT (SELECT count(*) FROM ({a} EXCEPT ALL {b})) + "
                              f"(SELECT count(*) FROM ({b} EXCEPT ALL {a}))").fetchall()[0][0]
            bad += r.quarantined + diff
            print(f"{table:<15} {r.read:>11,} {r.quarantined:>12,} {diff:>10,}")
        print("not compared: " + "; ".join(f"{t}.{', '.join(c)} (not exported)" for t, c in NOT_EXPORTED.items())
              + "; fixmedins_type compared as the province's coarser list")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
