"""A province's own export through an adapter alone: columns derived by SQL over the export's own
columns, a code list from a CSV file, optional columns left out. The independent province
(examples in features/ingest/adapters/example_independent.toml) loads with 0 rows lost, to the same
rows as the contract's own layout."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest

from features.ingest.adapters.config import load_adapter
from features.ingest.pipeline import ingest
from features.schema import TABLES
from feijian.errors import ConfigError
from tests.test_ingest import table
from tests.test_ingest_data import NOW, export_rows, write_csv, write_export

ADAPTERS = Path(__file__).resolve().parents[1] / "features" / "ingest" / "adapters"
INDEPENDENT = ADAPTERS / "example_independent.toml"
KEYS = {"fixmedins": "fixmedins_code", "dr_info": "dr_code", "catalog": "med_list_codg", "mdtrt_d": "mdtrt_id",
        "setl_d": "setl_id", "fee_list_d": "feedetl_sn", "inspections": "insp_id", "insp_dr_points": "insp_id"}


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEIJIAN_PSEUDONYM_KEY", "test-key-0123456789abcdef")
    monkeypatch.delenv("FEIJIAN_PSEUDONYM_KEY_FILE", raising=False)


def contract_rows() -> dict[str, list[dict[str, str]]]:
    """The contract rows the independent province's export stands for."""
    rows = export_rows()
    rows["catalog"][0].update(lmt_gend="2", lmt_age_min="18", lmt_age_max="70", max_cnt_per_day="2", price_cap="80",
                              max_cnt_per_period="1", period_days="30", min_hosp_lv_tier="2", package_codg="PKG1")
    rows["catalog"][1].update(days_per_unit="1", max_days_supply="30")
    for r in rows["mdtrt_d"]:
        r["certno"] = ""  # optional: the province exports none
    rows["mdtrt_d"][1].update(drg_code="ES23", drg_weight="1.2")
    rows["fee_list_d"][1]["trace_code"] = "83912345678901234567"
    for r in rows["inspections"]:
        r["insp_type"] = ""
    return rows


def _compact(v: str) -> str:
    return v.replace("-", "").replace(" ", "").replace(":", "")


def _fen(v: str) -> str:
    return str(round(float(v) * 100))


def independent_export(root: Path, rows: dict[str, list[dict[str, str]]]) -> Path:
    """`rows` written as the independent province exports them (its names, codes, units and columns)."""
    level = {"02": ("3", "甲"), "08": ("1", "甲")}
    kind = {"general": "hospital", "primary": "primary", "pharmacy": "pharmacy"}
    write_csv(root / "jigou.csv", [
        {"org_code": r["fixmedins_code"], "org_name": r["fixmedins_name"], "org_type": kind[r["fixmedins_type"]],
         "level": level[r["hosp_lv"]][0], "grade": level[r["hosp_lv"]][1],
         "owner": {"public": "公立", "private": "民营"}[r["ownership"]], "region": r["admdvs"], "beds": r["open_beds"],
         "since": _compact(r["begndate"])} for r in rows["fixmedins"]])
    write_csv(root / "doctors.csv", [
        {"doc_id": r["dr_code"], "org_code": r["fixmedins_code"], "dept_name": r["dept"], "title": r["pro_tech_duty"],
         "since": _compact(r["begndate"])} for r in rows["dr_info"]])
    category = {"01": "床位", "04": "化验", "09": "西药"}
    write_csv(root / "kb.csv", [
        {"item_code": r["med_list_codg"], "item_name": r["name"], "list_class": r["list_type"],
         "category": category[r["med_chrgitm_type"]], "pay_class": {"01": "甲类", "02": "乙类"}[r["chrgitm_lv"]],
         "price_fen": _fen(r["ref_price"]), "price_cap": r["price_cap"],
         "sex_limit": {"": "", "1": "男", "2": "女"}[r["lmt_gend"]], "age_min": r["lmt_age_min"],
         "age_max": r["lmt_age_max"], "max_per_day": r["max_cnt_per_day"], "min_interval_days": r["period_days"],
         "min_hosp_lv": {"": "", "1": "一级", "2": "二级", "3": "三级"}[r["min_hosp_lv_tier"]],
         "package_of": r["package_codg"], "days_per_pack": r["days_per_unit"], "max_days": r["max_days_supply"],
         "trace_required": "是" if r["needs_trace_code"] == "1" else "否"} for r in rows["catalog"]])
    write_csv(root / "visits.csv", [
        {"visit_id": r["mdtrt_id"], "person": r["psn_no"], "org_code": r["fixmedins_code"], "visit_type": r["med_type"],
         "start": _compact(r["begntime"]), "end": _compact(r["endtime"]), "diag": r["dscg_maindiag_code"],
         "drg": r["drg_code"], "drg_weight": r["drg_weight"], "doc_id": r["atddr_no"], "dept_name": r["dept"],
         "sex": {"1": "男", "2": "女"}[r["gend"]],
         "birth": f"{int(r['begntime'][:4]) - int(r['age'])}0101", "scheme": r["insutype"]} for r in rows["mdtrt_d"]])
    write_csv(root / "settlements.csv", [
        {"settle_id": r["setl_id"], "visit_id": r["mdtrt_id"], "person": r["psn_no"], "org_code": r["fixmedins_code"],
         "settled": _compact(r["setl_time"]), "total_fen": _fen(r["medfee_sumamt"]), "pool_fen": _fen(r["hifp_pay"]),
         "fund_fen": _fen(r["fund_pay_sumamt"]), "account_fen": _fen(r["acct_pay"]),
         "cash_fen": _fen(r["psn_cash_pay"]), "refund": {"0": "N", "1": "Y"}[r["refd_setl_flag"]]}
        for r in rows["setl_d"]])
    write_csv(root / "fees.csv", [
        {"line_id": r["feedetl_sn"], "visit_id": r["mdtrt_id"], "settle_id": r["setl_id"], "person": r["psn_no"],
         "org_code": r["fixmedins_code"], "at": _compact(r["fee_ocur_time"]), "item_code": r["med_list_codg"],
         "list_class": r["list_type"], "item_type": r["med_chrgitm_type"], "pay_level": r["chrgitm_lv"],
         "qty": r["cnt"], "unit_price": r["pric"], "amount": r["det_item_fee_sumamt"], "doc_id": r["bilg_dr_codg"],
         "dept_code": r["bilg_dept_codg"], "trace": r["trace_code"]} for r in rows["fee_list_d"]])
    write_csv(root / "findings.csv", [
        {"case_id": r["insp_id"], "org_code": r["fixmedins_code"], "round": r["batch"],
         "visited": _compact(r["insp_date"]), "from": _compact(r["period_begn"]), "to": _compact(r["period_end"]),
         "how_chosen": r["selection"].replace("_", "-"), "violations": r["violation_types"],
         "involved": r["amount_involved"], "recovered": r["amount_recovered"], "fine": r["fine_amount"],
         "action": r["agreement_action"], "to_police": r["referral"]} for r in rows["inspections"]])
    write_csv(root / "points.csv", [
        {"case_id": r["insp_id"], "doc_id": r["dr_code"], "points": r["points"]} for r in rows["insp_dr_points"]])
    return root


def test_the_independent_province_loads_with_its_adapter_alone(tmp_path: Path) -> None:
    rows = contract_rows()
    rep = ingest(independent_export(tmp_path / "hb", rows), tmp_path / "ws", adapter=INDEPENDENT, now=NOW)
    assert {n: (t.read, t.quarantined) for n, t in rep.tables.items()} == {
        n: (len(rs), 0) for n, rs in rows.items()}
    ingest(write_export(tmp_path / "contract", "csv", rows), tmp_path / "ref", now=NOW)
    for name, key in KEYS.items():
        assert table(tmp_path / "ws", name, key) == table(tmp_path / "ref", name, key), name
    kb = duckdb.sql(f"SELECT lmt_gend, period_days, max_cnt_per_period, min_hosp_lv_tier, ref_price, needs_trace_code "
                    f"FROM read_parquet('{tmp_path}/ws/raw/catalog/*.parquet') ORDER BY med_list_codg").fetchall()
    assert kb[0] == ("2", 30, 1.0, 2, 60.0, False) and kb[1][-1] is True  # derived, then validated and typed


def test_a_derived_value_that_cannot_be_computed_is_quarantined_naming_the_expression(tmp_path: Path) -> None:
    rows = contract_rows()
    src = independent_export(tmp_path / "hb", rows)
    visits = (src / "visits.csv").read_text(encoding="utf-8").replace(",19830101,", ",1983-13-01,")
    (src / "visits.csv").write_text(visits, encoding="utf-8")
    rep = ingest(src, tmp_path / "ws", adapter=INDEPENDENT, now=NOW, max_reject_share=1.0)
    assert rep.tables["mdtrt_d"].quarantined >= 1
    q = duckdb.sql(f"SELECT field, reason FROM read_parquet('{tmp_path}/ws/quarantine/*/mdtrt_d.parquet')").fetchall()
    assert ("age", "age (年龄, derived as date_sub('year', strptime(birth, '%Y%m%d'), strptime(start, "
                   "'%Y%m%d%H%M%S'))) is empty; a value is required") in q


@pytest.mark.parametrize(
    ("expr", "says"),
    [
        ("date_sub('year', strptime(born, '%Y%m%d'), now())", r'Referenced column "born" not found'),
        ("length(person)", "it reads person, a personal identifier, which is pseudonymised as it is read"),
    ],
)
def test_an_expression_that_does_not_bind_is_refused_naming_table_column_and_file(
    tmp_path: Path, expr: str, says: str
) -> None:
    src = independent_export(tmp_path / "hb", contract_rows())
    text = INDEPENDENT.read_text(encoding="utf-8")
    old = "date_sub('year', strptime(birth, '%Y%m%d'), strptime(start, '%Y%m%d%H%M%S'))"
    assert old in text
    ad = tmp_path / "hb.toml"
    ad.write_text(text.replace(old, expr), encoding="utf-8")
    shutil.copytree(ADAPTERS / "codes", tmp_path / "codes")  # the code lists it names, beside it
    with pytest.raises(ConfigError, match=rf"tables\.mdtrt_d\.derive\.age = .* cannot be computed over visits\.csv "
                                          rf"\(its columns: .*\): .*{says}"):
        ingest(src, tmp_path / "ws", adapter=ad, now=NOW)
    assert not (tmp_path / "ws" / "raw").exists()


def test_a_code_list_file_is_read_beside_the_adapter(tmp_path: Path) -> None:
    ad = load_adapter(INDEPENDENT)
    assert ad.table("fixmedins").values["hosp_lv"]["3甲"] == "02" and len(ad.table("fixmedins").values["hosp_lv"]) == 11
    codes = tmp_path / "codes.csv"
    codes.write_text("省编码,国家编码\n3甲,02\n3甲,03\n", encoding="utf-8")
    p = tmp_path / "a.toml"
    p.write_text('[tables.fixmedins.values]\nhosp_lv = "codes.csv"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"{codes} line 3: '3甲' is mapped twice ('02' and '03')")):
        load_adapter(p)


OPTIONAL = [(t.name, c.name) for t in TABLES.values() for c in t.columns if not c.required]


@pytest.mark.parametrize(("name", "column"), OPTIONAL, ids=[f"{t}.{c}" for t, c in OPTIONAL])
def test_an_export_without_an_optional_column_loads_it_as_null_or_its_default(
    tmp_path: Path, name: str, column: str
) -> None:
    rows = export_rows()
    for r in rows[name]:
        del r[column]
    rep = ingest(write_export(tmp_path / "src", "csv", rows), tmp_path / "ws", now=NOW)
    assert rep.tables[name].quarantined == 0 and rep.tables[name].accepted == len(rows[name])
    col = TABLES[name].column(column)
    stored = f"read_parquet('{tmp_path}/ws/raw/{name}/**/*.parquet')"
    got = {v for (v,) in duckdb.sql(f"SELECT DISTINCT {column} FROM {stored}").fetchall()}
    assert got == {None if col.default is None else col.default}
