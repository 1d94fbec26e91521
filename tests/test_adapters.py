"""Adapter files: the example province's reads as written; a wrong file is refused naming the file,
the table or key and the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from features.ingest.adapters.config import load_adapter
from feijian.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "features" / "ingest" / "adapters" / "example_province.toml"


def test_example_adapter_reads_as_written() -> None:
    ad = load_adapter(EXAMPLE)
    assert (ad.name, ad.encoding, ad.path) == ("example_province", "gbk", EXAMPLE)
    assert ad.timestamp_formats == ["%Y%m%d%H%M%S", "%Y%m%d"] and ad.date_formats == ["%Y%m%d"]
    fee = ad.table("fee_list_d")
    assert fee.source == "FYMX" and fee.export_column("cnt") == "SL" and fee.export_column("pric") == "DJ"
    assert fee.defaults == {"trace_code": ""} and fee.values["chrgitm_lv"]["甲"] == "01"
    assert ad.source_names()["fymx"] == "fee_list_d"
    assert ad.table("catalog").export_column("med_list_codg") == "med_list_codg"  # not adapted: the contract's


def test_yaml_values_are_read_as_text(tmp_path: Path) -> None:
    p = tmp_path / "a.yaml"
    p.write_text("tables:\n  fee_list_d:\n    values:\n      list_type: {1: 101, 2: null}\n", encoding="utf-8")
    assert load_adapter(p).table("fee_list_d").values == {"list_type": {"1": "101", "2": ""}}


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (("[tables.setl_d]", "[tables.setl]"), "unknown table 'setl'; the contract has: admdvs, fixmedins, "),
        (("{ setl_id = ", "{ setl_idx = "), "tables.setl_d.columns: 'setl_idx' is not a column of setl_d; columns: "),
        (('source = "JSXX"', 'sorce = "JSXX"'), "tables.setl_d.sorce: is not a known field"),
        (('encoding = "gbk"', 'encodng = "gbk"'), "encodng: is not a known field"),
        (('date_formats = ["%Y%m%d"]', "date_formats = 8"), "date_formats: must be a strptime format or a list"),
        (('[tables.mdtrt_d.values.gend]\n"M" = "1"', '[tables.mdtrt_d.values]\ngend = 5'),
         "tables.mdtrt_d.values.gend: must be a table of name = value pairs, got 5"),
        (('[tables.mdtrt_d.values.gend]\n"M" = "1"', '[tables.mdtrt_d.values]\ngend = "codes/gend.csv"'),
         "tables.mdtrt_d.values.gend: cannot read the code list "),
        (('"M" = "1"', '"M" = "male"'), "tables.mdtrt_d.values.gend: maps to 'male', not codes of gend; its codes: "),
        (('[tables.fee_list_d]', '[tables.fee_list_d]\nderive = { cnt = "SL::DOUBLE" }'),
         "tables.fee_list_d.derive.cnt: 'cnt' is derived and also in columns; keep one"),
        (('[tables.fee_list_d]', '[tables.fee_list_d]\nderive = { psn_no = "RYBH" }'),
         "tables.fee_list_d.derive.psn_no: 'psn_no' is a personal identifier, pseudonymised as it is read; "),
        (('[tables.fee_list_d]', '[tables.fee_list_d]\nderive = { trace_code = " " }'),
         "tables.fee_list_d.derive.trace_code: the expression is empty"),
        (('[tables.fee_list_d]', '[tables.fee_list_d]\nderive = { bilg_dept_codg = "read_text(\'/etc/passwd\')" }'),
         "tables.fee_list_d.derive.bilg_dept_codg: \"read_text('/etc/passwd')\" may not call read_text(): it "
         "reaches outside the row"),
        (('[tables.fee_list_d]', '[tables.fee_list_d]\nderive = { bilg_dept_codg = "(SELECT max(KDKS) FROM t)" }'),
         "tables.fee_list_d.derive.bilg_dept_codg: '(SELECT max(KDKS) FROM t)' may not hold a query or a table"),
        (('[tables.fee_list_d]', '[tables.fee_list_d]\nderive = { bilg_dept_codg = "KDKS; DROP TABLE x" }'),
         "tables.fee_list_d.derive.bilg_dept_codg: 'KDKS; DROP TABLE x' must be one expression (no ';')"),
        (('[tables.mdtrt_d]', '[tables.mdtrt_d]\nderive = { certno = "SFZH" }'),
         "tables.mdtrt_d.derive.certno: 'certno' is a personal identifier, pseudonymised as it is read; "),
    ],
)
def test_a_wrong_adapter_is_refused_naming_file_key_and_field(
    tmp_path: Path, change: tuple[str, str], says: str
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert change[0] in text
    p = tmp_path / "province.toml"
    p.write_text(text.replace(*change), encoding="utf-8")
    with pytest.raises(ConfigError, match=f"^adapter {re.escape(str(p))}: {re.escape(says)}"):
        load_adapter(p)
