"""Small hand-built provinces for tests: every visit and fee line is chosen, so features can be checked
by hand. `Province.write(ws)` lays the tables out exactly as ingest does (raw/<table>/month=YYYY-MM/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.schema import TABLES, Table


def _item(code: str, name: str, list_type: str, chrgitm: str, lv: str, price: float, **limits: object) -> dict:
    """A catalogue row: only the restrictions the item has are named; the rest stay empty."""
    row: dict[str, object] = {c.name: None for c in TABLES["catalog"].columns}
    row.update(
        med_list_codg=code,
        name=name,
        list_type=list_type,
        med_chrgitm_type=chrgitm,
        chrgitm_lv=lv,
        ref_price=price,
        needs_trace_code=False,
    )
    row.update(limits)
    return row


CATALOG_ROWS = [
    _item("BED01", "普通床位费", "201", "01", "01", 60.0, price_cap=80.0, max_cnt_per_day=1),
    _item(
        "LAB_HBA1C", "糖化血红蛋白测定", "201", "04", "01", 40.0, price_cap=50.0, max_cnt_per_period=1, period_days=90
    ),
    _item("LAB_PSA", "前列腺特异性抗原测定", "201", "04", "02", 80.0, lmt_gend="1"),
    _item("EXM_GYN", "妇科检查", "201", "03", "01", 30.0, lmt_gend="2"),
    _item("TRT_CHILD", "小儿推拿", "201", "05", "02", 50.0, lmt_age_max=14),
    _item("TRT_IV", "静脉输液", "201", "05", "01", 20.0, price_cap=25.0),
    _item("SRG_CARD", "心脏介入手术", "201", "06", "01", 9000.0, price_cap=12000.0, min_hosp_lv_tier=3),
    _item(
        "DRG_MET", "二甲双胍片", "101", "09", "01", 2.0, days_per_unit=1.0, max_days_supply=90, needs_trace_code=True
    ),
    _item("DRG_AMOX", "阿莫西林胶囊", "101", "09", "01", 1.5, days_per_unit=0.5, max_days_supply=7),
    _item("PKG_LAB", "血常规套餐", "201", "04", "01", 30.0),
    _item("PKG_LAB_A", "血红蛋白测定", "201", "04", "01", 12.0, package_codg="PKG_LAB"),
    _item("PKG_LAB_B", "白细胞计数", "201", "04", "01", 12.0, package_codg="PKG_LAB"),
    _item("CON_SYR", "一次性注射器", "301", "08", "02", 1.0),
]
CATALOG_COLS = [c.name for c in TABLES["catalog"].columns]


@dataclass
class Province:
    facilities: list[dict] = field(default_factory=list)
    physicians: list[dict] = field(default_factory=list)
    visits: list[dict] = field(default_factory=list)
    settlements: list[dict] = field(default_factory=list)
    fee_lines: list[dict] = field(default_factory=list)
    inspections: list[dict] = field(default_factory=list)
    _seq: int = 0

    def facility(
        self,
        code: str,
        ftype: str = "general",
        lv: str = "02",
        beds: int = 100,
        region: str = "990101",
        ownership: str = "public",
        opened: date = date(2015, 1, 1),
    ) -> str:
        self.facilities.append(
            dict(
                fixmedins_code=code,
                fixmedins_name=f"测试机构{code}",
                fixmedins_type=ftype,
                hosp_lv=lv,
                ownership=ownership,
                admdvs=region,
                open_beds=beds,
                begndate=opened,
            )
        )
        return code

    def physician(self, code: str, fac: str, dept: str = "内科") -> str:
        self.physicians.append(
            dict(dr_code=code, fixmedins_code=fac, dept=dept, pro_tech_duty="主治医师", begndate=date(2010, 1, 1))
        )
        return code

    def visit(
        self,
        psn: str,
        fac: str,
        dr: str,
        begin: datetime,
        end: datetime | None = None,
        med_type: str = "11",
        lines: list[tuple[str, float, float]] | None = None,
        gend: str = "1",
        age: int = 40,
        dx: str = "J18.9",
        drg: tuple[str, float] | None = None,
        line_times: list[datetime] | None = None,
    ) -> str:
        """Add a visit with its settlement and fee lines; lines are (item, cnt, price)."""
        self._seq += 1
        mid, sid = f"M{self._seq:06d}", f"S{self._seq:06d}"
        end = end or begin + timedelta(hours=1)
        self.visits.append(
            dict(
                mdtrt_id=mid,
                psn_no=psn,
                certno=None,
                fixmedins_code=fac,
                med_type=med_type,
                begntime=begin,
                endtime=end,
                dscg_maindiag_code=dx,
                drg_code=drg[0] if drg else None,
                drg_weight=drg[1] if drg else None,
                atddr_no=dr,
                dept="内科",
                gend=gend,
                age=age,
                insutype="310",
            )
        )
        total = 0.0
        for i, (item, cnt, price) in enumerate(lines or [("TRT_IV", 1, 20.0)]):
            amt = round(cnt * price, 2)
            total += amt
            row = next(r for r in CATALOG_ROWS if r["med_list_codg"] == item)
            when = line_times[i] if line_times else begin
            self.fee_lines.append(
                dict(
                    feedetl_sn=f"F{self._seq:06d}{i:03d}",
                    mdtrt_id=mid,
                    setl_id=sid,
                    psn_no=psn,
                    fixmedins_code=fac,
                    fee_ocur_time=when,
                    med_list_codg=item,
                    list_type=row["list_type"],
                    med_chrgitm_type=row["med_chrgitm_type"],
                    chrgitm_lv=row["chrgitm_lv"],
                    cnt=float(cnt),
                    pric=float(price),
                    det_item_fee_sumamt=amt,
                    bilg_dr_codg=dr,
                    bilg_dept_codg="内科",
                    trace_code=None,
                )
            )
        total = round(total, 2)
        fund = round(total * 0.7, 2)
        self.settlements.append(
            dict(
                setl_id=sid,
                mdtrt_id=mid,
                psn_no=psn,
                fixmedins_code=fac,
                setl_time=end,
                medfee_sumamt=total,
                hifp_pay=fund,
                fund_pay_sumamt=fund,
                acct_pay=0.0,
                psn_cash_pay=round(total - fund, 2),
                refd_setl_flag="0",
            )
        )
        return mid

    def stay(self, psn: str, fac: str, dr: str, admit: datetime, days: int, treat: bool = True, **kw: object) -> str:
        """An inpatient stay: a bed fee every day, an IV treatment each day when `treat`."""
        lines, times = [], []
        for d in range(days):
            lines.append(("BED01", 1, 60.0))
            times.append(admit + timedelta(days=d))
            if treat:
                lines.append(("TRT_IV", 1, 20.0))
                times.append(admit + timedelta(days=d))
        return self.visit(
            psn, fac, dr, admit, admit + timedelta(days=days), med_type="21", lines=lines, line_times=times, **kw
        )  # type: ignore[arg-type]

    def inspection(self, fac: str, when: date, recovered: float, selection: str = "random") -> None:
        self.inspections.append(
            dict(
                insp_id=f"I{len(self.inspections) + 1:04d}",
                fixmedins_code=fac,
                batch=f"{when:%Y}Q",
                insp_date=when,
                period_begn=when - timedelta(days=365),
                period_end=when - timedelta(days=1),
                selection=selection,
                insp_type="routine",
                violation_types="minor",
                amount_involved=recovered,
                amount_recovered=recovered,
                fine_amount=0.0,
                agreement_action="none",
                referral=False,
            )
        )

    # --- writing ---------------------------------------------------------------------------------------

    def frames(self) -> dict[str, pd.DataFrame]:
        catalog = pd.DataFrame(CATALOG_ROWS, columns=CATALOG_COLS)
        return {
            "fixmedins": pd.DataFrame(self.facilities),
            "dr_info": pd.DataFrame(self.physicians),
            "catalog": catalog,
            "mdtrt_d": pd.DataFrame(self.visits),
            "setl_d": pd.DataFrame(self.settlements),
            "fee_list_d": pd.DataFrame(self.fee_lines),
            "inspections": pd.DataFrame(self.inspections, columns=[c.name for c in TABLES["inspections"].columns]),
            "insp_dr_points": pd.DataFrame(columns=["insp_id", "dr_code", "points"]),
        }

    def write(self, root: Path) -> Path:
        for name, df in self.frames().items():
            write_table(root, TABLES[name], df)
        return root


def _arrow_schema(spec: Table, present: list[str]) -> pa.Schema:
    types = {
        "string": pa.string(),
        "code": pa.string(),
        "int": pa.int64(),
        "float": pa.float64(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("s"),
        "bool": pa.bool_(),
    }
    return pa.schema([(c.name, types[c.type]) for c in spec.columns if c.name in present])


def write_table(root: Path, spec: Table, df: pd.DataFrame) -> None:
    folder = root / "raw" / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    cols = [c.name for c in spec.columns if c.name in df.columns]
    schema = _arrow_schema(spec, cols)
    if spec.time_column and len(df):
        months = pd.to_datetime(df[spec.time_column]).dt.strftime("%Y-%m")
        for month, part in df.groupby(months):
            out = folder / f"month={month}"
            out.mkdir(exist_ok=True)
            pq.write_table(
                pa.Table.from_pandas(part[cols], schema=schema, preserve_index=False), out / "part-0.parquet"
            )
    else:
        pq.write_table(pa.Table.from_pandas(df[cols], schema=schema, preserve_index=False), folder / "part-0.parquet")
