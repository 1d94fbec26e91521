"""A tiny hand-built province for rule tests: a few facilities, a catalogue, visits and fee lines.

Tables follow the input contract (features.schema) column for column, so a rule that reads a
column the contract lacks fails here. Each test adds just the rows its case needs; `connect()`
returns a DuckDB connection with the six views the rules read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from features import schema

FACILITIES = {
    # code: (type, hosp_lv)
    "F3": ("general", "02"),  # 三级甲等 (tier 3)
    "F2": ("general", "05"),  # 二级甲等 (tier 2)
    "F1": ("primary", "08"),  # 一级甲等 (tier 1)
    "FP": ("pharmacy", "11"),  # pharmacy, 未定级
    "FX": ("clinic", "11"),
}

# med_list_codg: overrides of the catalogue row (name, list_type, med_chrgitm_type, ref_price, ...)
CATALOG: dict[str, dict[str, Any]] = {
    "HBA1C": {"name": "糖化血红蛋白测定", "med_chrgitm_type": "04", "ref_price": 60.0,
              "max_cnt_per_period": 1, "period_days": 90},
    "PSA": {"name": "前列腺特异性抗原测定", "med_chrgitm_type": "04", "ref_price": 80.0, "lmt_gend": "1"},
    "GYN": {"name": "妇科检查", "med_chrgitm_type": "03", "ref_price": 30.0, "lmt_gend": "2"},
    "PAED": {"name": "小儿推拿", "med_chrgitm_type": "05", "ref_price": 40.0, "lmt_age_max": 14},
    "ADULT": {"name": "成人康复评定", "med_chrgitm_type": "05", "ref_price": 50.0, "lmt_age_min": 18},
    "BED": {"name": "普通病房床位费", "med_chrgitm_type": "01", "ref_price": 50.0, "max_cnt_per_day": 1},
    "NURSE": {"name": "一级护理", "med_chrgitm_type": "07", "ref_price": 30.0},
    "TREAT": {"name": "静脉输液", "med_chrgitm_type": "05", "ref_price": 20.0},
    "PKG": {"name": "肝功能组合", "med_chrgitm_type": "04", "ref_price": 80.0, "price_cap": 80.0},
    "PKG_A": {"name": "丙氨酸氨基转移酶测定", "med_chrgitm_type": "04", "ref_price": 40.0, "package_codg": "PKG"},
    "PKG_B": {"name": "天门冬氨酸氨基转移酶测定", "med_chrgitm_type": "04", "ref_price": 40.0,
              "package_codg": "PKG"},
    "PKG_C": {"name": "总胆红素测定", "med_chrgitm_type": "04", "ref_price": 40.0, "package_codg": "PKG"},
    "CT": {"name": "头颅CT平扫", "med_chrgitm_type": "03", "ref_price": 100.0, "price_cap": 100.0},
    "MRI3": {"name": "心脏磁共振成像", "med_chrgitm_type": "03", "ref_price": 900.0, "min_hosp_lv_tier": 3},
    "DRUG": {"name": "二甲双胍缓释片", "list_type": "101", "med_chrgitm_type": "09", "chrgitm_lv": "01",
             "ref_price": 20.0, "days_per_unit": 10.0, "max_days_supply": 30, "needs_trace_code": True},
    "GLOVE": {"name": "一次性检查手套", "list_type": "301", "med_chrgitm_type": "08", "ref_price": 2.0},
}

DAY0 = dt.datetime(2024, 3, 1, 9, 0)


def at(day: int, hour: int = 9) -> dt.datetime:
    """A time `day` days after 2024-03-01, at `hour` o'clock."""
    return DAY0 + dt.timedelta(days=day, hours=hour - 9)


class RuleCase:
    """Rows for one test; `visit` and `line` fill every contract column with a plausible value."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {t: [] for t in schema.TABLES}
        for code, (ftype, lv) in FACILITIES.items():
            self.rows["fixmedins"].append({
                "fixmedins_code": code, "fixmedins_name": f"机构{code}", "fixmedins_type": ftype,
                "hosp_lv": lv, "ownership": "public", "admdvs": "500102", "open_beds": 100,
                "begndate": dt.date(2010, 1, 1)})
            self.rows["dr_info"].append({"dr_code": f"D{code}", "fixmedins_code": code, "dept": "内科",
                                         "pro_tech_duty": "主治医师", "begndate": dt.date(2010, 1, 1)})
        for code, over in CATALOG.items():
            row = {c.name: None for c in schema.CATALOG.columns}
            row.update({"med_list_codg": code, "list_type": "201", "chrgitm_lv": "01", "needs_trace_code": False})
            row.update(over)
            self.rows["catalog"].append(row)
        self._visits: dict[str, dict[str, Any]] = {}
        self._sn = 0

    def visit(self, mdtrt_id: str, *, psn: str = "P1", fac: str = "F3", med_type: str = "11",
              begin: dt.datetime = DAY0, end: dt.datetime | None = None, gend: str = "1", age: int = 40,
              diag: str | None = "I10", fund: float = 100.0) -> str:
        v = {"mdtrt_id": mdtrt_id, "psn_no": psn, "certno": None, "fixmedins_code": fac, "med_type": med_type,
             "begntime": begin, "endtime": end or begin + dt.timedelta(hours=1), "dscg_maindiag_code": diag,
             "drg_code": None, "drg_weight": None, "atddr_no": f"D{fac}", "dept": "内科", "gend": gend,
             "age": age, "insutype": "310"}
        self.rows["mdtrt_d"].append(v)
        self._visits[mdtrt_id] = v
        self.rows["setl_d"].append({
            "setl_id": f"S{mdtrt_id}", "mdtrt_id": mdtrt_id, "psn_no": psn, "fixmedins_code": fac,
            "setl_time": v["endtime"], "medfee_sumamt": fund * 1.25, "hifp_pay": fund, "fund_pay_sumamt": fund,
            "acct_pay": 0.0, "psn_cash_pay": fund * 0.25, "refd_setl_flag": "0"})
        return mdtrt_id

    def line(self, mdtrt_id: str, item: str, *, time: dt.datetime | None = None, cnt: float = 1.0,
             pric: float | None = None, trace: str | None = None, sn: str | None = None) -> str:
        v = self._visits[mdtrt_id]
        cat = next(r for r in self.rows["catalog"] if r["med_list_codg"] == item)
        self._sn += 1
        sn = sn or f"L{self._sn:03d}"
        pric = cat["ref_price"] if pric is None else pric
        self.rows["fee_list_d"].append({
            "feedetl_sn": sn, "mdtrt_id": mdtrt_id, "setl_id": f"S{mdtrt_id}", "psn_no": v["psn_no"],
            "fixmedins_code": v["fixmedins_code"], "fee_ocur_time": time or v["begntime"],
            "med_list_codg": item, "list_type": cat["list_type"], "med_chrgitm_type": cat["med_chrgitm_type"],
            "chrgitm_lv": cat["chrgitm_lv"], "cnt": cnt, "pric": pric, "det_item_fee_sumamt": cnt * pric,
            "bilg_dr_codg": v["atddr_no"], "bilg_dept_codg": "内科", "trace_code": trace})
        return sn

    def connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        for name in ("fixmedins", "dr_info", "catalog", "mdtrt_d", "setl_d", "fee_list_d"):
            table = schema.table(name)
            cols = ", ".join(f"{c.name} {schema.SQL_TYPES[c.type]}" for c in table.columns)
            con.execute(f"CREATE TABLE {name} ({cols})")
            rows = self.rows[name]
            if rows:
                marks = ", ".join("?" for _ in table.columns)
                con.executemany(f"INSERT INTO {name} VALUES ({marks})",
                                [[r.get(c.name) for c in table.columns] for r in rows])
        return con
