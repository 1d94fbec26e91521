"""A tiny, consistent claims export for the ingest tests (no simulator needed).

`export_rows()` gives every contract table as a list of text dicts (what a CSV holds);
`write_export(dir, fmt)` writes them as CSV (one file per table) or Parquet (native types,
`<table>/part-0.parquet`, like the simulator). Amounts reconcile: each settlement's medfee_sumamt is
the sum of its fee lines; S4 is a refund with negative amounts.
"""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from features.schema import TABLES

NOW = "2024-12-31"


def export_rows() -> dict[str, list[dict[str, str]]]:
    fix = [
        dict(fixmedins_code="H001", fixmedins_name="第一人民医院", fixmedins_type="general", hosp_lv="02",
             ownership="public", admdvs="500102", open_beds="800", begndate="2010-01-01"),
        dict(fixmedins_code="H002", fixmedins_name="社区卫生服务中心", fixmedins_type="primary", hosp_lv="08",
             ownership="public", admdvs="500102", open_beds="40", begndate="2015-06-01"),
    ]
    drs = [
        dict(dr_code="D01", fixmedins_code="H001", dept="内科", pro_tech_duty="主任医师", begndate="2012-01-01"),
        dict(dr_code="D02", fixmedins_code="H001", dept="外科", pro_tech_duty="", begndate="2013-01-01"),
        dict(dr_code="D03", fixmedins_code="H002", dept="全科", pro_tech_duty="医师", begndate="2016-01-01"),
    ]
    empty = dict(price_cap="", lmt_gend="", lmt_age_min="", lmt_age_max="", max_cnt_per_day="",
                 max_cnt_per_period="", period_days="", min_hosp_lv_tier="", package_codg="", days_per_unit="",
                 max_days_supply="")
    cat = [
        dict(med_list_codg="C001", name="糖化血红蛋白", list_type="201", med_chrgitm_type="04", chrgitm_lv="01",
             ref_price="60", needs_trace_code="0", **empty),
        dict(med_list_codg="C002", name="二甲双胍片", list_type="101", med_chrgitm_type="09", chrgitm_lv="01",
             ref_price="10", needs_trace_code="1", **empty),
        dict(med_list_codg="C003", name="床位费", list_type="201", med_chrgitm_type="01", chrgitm_lv="01",
             ref_price="50", needs_trace_code="0", **empty),
    ]
    visits, setls, fees = [], [], []
    plan = [  # (visit, person, facility, med_type, begin, doctor, lines [(item, cnt, price)], refund)
        ("M1", "P001", "H001", "11", "2024-01-05 09:00:00", "D01", [("C001", 1, 60.0), ("C002", 2, 10.0)], False),
        ("M2", "P002", "H001", "21", "2024-01-20 10:00:00", "D02", [("C003", 3, 50.0), ("C002", 1, 10.0)], False),
        ("M3", "P001", "H002", "11", "2024-02-03 08:30:00", "D03", [("C002", 3, 10.0)], False),
        ("M4", "P003", "H002", "11", "2024-02-10 14:00:00", "D03", [("C001", -1, 60.0)], True),
    ]
    sn = 0
    for i, (m, p, h, mt, t, dr, lines, refund) in enumerate(plan, start=1):
        visits.append(dict(mdtrt_id=m, psn_no=p, certno=f"11010119900101{i:04d}", fixmedins_code=h, med_type=mt,
                           begntime=t, endtime=t, dscg_maindiag_code="E11.9", drg_code="", drg_weight="",
                           atddr_no=dr, dept="内科", gend="1" if i % 2 else "2", age=str(40 + i), insutype="310"))
        total = round(sum(c * pr for _, c, pr in lines), 2)
        setls.append(dict(setl_id=f"S{i}", mdtrt_id=m, psn_no=p, fixmedins_code=h, setl_time=t,
                          medfee_sumamt=f"{total:.2f}", hifp_pay=f"{total * 0.7:.2f}",
                          fund_pay_sumamt=f"{total * 0.7:.2f}", acct_pay="0", psn_cash_pay=f"{total * 0.3:.2f}",
                          refd_setl_flag="1" if refund else "0"))
        for item, cnt, price in lines:
            sn += 1
            c = next(x for x in cat if x["med_list_codg"] == item)
            fees.append(dict(feedetl_sn=f"F{sn:03d}", mdtrt_id=m, setl_id=f"S{i}", psn_no=p, fixmedins_code=h,
                             fee_ocur_time=t, med_list_codg=item, list_type=c["list_type"],
                             med_chrgitm_type=c["med_chrgitm_type"], chrgitm_lv="01", cnt=str(cnt),
                             pric=f"{price:.2f}", det_item_fee_sumamt=f"{cnt * price:.2f}", bilg_dr_codg=dr,
                             bilg_dept_codg="A01", trace_code=""))
    insp = [dict(insp_id="I1", fixmedins_code="H001", batch="2024Q3", insp_date="2024-09-01", period_begn="2024-01-01",
                 period_end="2024-06-30", selection="random", insp_type="flight", violation_types="over_testing",
                 amount_involved="1000", amount_recovered="800", fine_amount="0", agreement_action="interview",
                 referral="0")]
    points = [dict(insp_id="I1", dr_code="D01", points="3")]
    return {"fixmedins": fix, "dr_info": drs, "catalog": cat, "mdtrt_d": visits, "setl_d": setls,
            "fee_list_d": fees, "inspections": insp, "insp_dr_points": points}


def write_csv(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8",
              header: list[str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = header or list(rows[0])
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(h, "") for h in header])
    return path


_ARROW = {"string": pa.string(), "code": pa.string(), "int": pa.int64(), "float": pa.float64(),
          "date": pa.date32(), "timestamp": pa.timestamp("us"), "bool": pa.bool_()}


def _native(kind: str, v: str) -> object:
    if v == "":
        return None
    if kind == "int":
        return int(v)
    if kind == "float":
        return float(v)
    if kind == "date":
        return date.fromisoformat(v)
    if kind == "timestamp":
        return datetime.fromisoformat(v)
    if kind == "bool":
        return v == "1"
    return v


def arrow_table(name: str, rows: list[dict[str, str]]) -> pa.Table:
    t = TABLES[name]
    return pa.table({c.name: pa.array([_native(c.type, r.get(c.name, "")) for r in rows], _ARROW[c.type])
                     for c in t.columns})


def write_export(root: Path, fmt: str = "csv", rows: dict[str, list[dict[str, str]]] | None = None) -> Path:
    rows = rows or export_rows()
    root.mkdir(parents=True, exist_ok=True)
    for name, rs in rows.items():
        if fmt == "csv":
            write_csv(root / f"{name}.csv", rs)
        else:
            (root / name).mkdir(parents=True, exist_ok=True)
            pq.write_table(arrow_table(name, rs), root / name / "part-0.parquet")
    return root
