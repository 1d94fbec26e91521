"""Each kind of bad input is quarantined with its reason while the good rows are loaded.

One export carries all twelve problems at once (each on rows nothing else depends on, so one
rejection does not cascade into another), and is ingested once for the whole module.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from features.ingest.pipeline import ingest
from tests.test_ingest_data import NOW, export_rows, write_csv

KEY = "test-key-0123456789abcdef"


def _bad_export(root: Path) -> Path:
    rows = export_rows()
    root.mkdir(parents=True)
    fix = rows["fixmedins"] + [dict(rows["fixmedins"][1], fixmedins_code="H009", open_beds="many")]  # wrong type
    write_csv(root / "fixmedins" / "a.csv", fix)
    (root / "fixmedins" / "b.parquet").write_bytes(b"PAR1\x00\x01truncated")  # unreadable Parquet
    drs = rows["dr_info"] + [
        dict(rows["dr_info"][0], dr_code="D08", fixmedins_code="H999"),  # dangling reference
        dict(rows["dr_info"][0], dr_code="D09", begndate="2030-01-01"),  # future date
        dict(rows["dr_info"][0], dept="儿科"),  # duplicate key D01
    ]
    write_csv(root / "dr_info" / "a.csv", drs)
    write_csv(root / "dr_info" / "b.csv", [dict(rows["dr_info"][0], dr_code="D07")], encoding="gbk")  # GBK
    cat = rows["catalog"] + [dict(rows["catalog"][0], med_list_codg="C009", list_type="999")]  # unknown code
    write_csv(root / "catalog" / "a.csv", cat)
    no_price = [dict(rows["catalog"][0], med_list_codg="C010")]
    write_csv(root / "catalog" / "b.csv", no_price, header=[h for h in no_price[0] if h != "ref_price"])  # missing col
    write_csv(root / "mdtrt_d.csv", rows["mdtrt_d"])
    setl = rows["setl_d"]
    setl[2]["medfee_sumamt"] = "31.00"  # S3: its fee lines add up to 30.00
    setl.append(dict(setl[0], setl_id="S9", medfee_sumamt="-10.00"))  # negative, not a refund
    setl.append(dict(setl[0], setl_id="S10", medfee_sumamt="0.00", hifp_pay="110101199001011234"))  # an ID as amount
    write_csv(root / "setl_d.csv", setl)
    fees = rows["fee_list_d"] + [
        dict(rows["fee_list_d"][0], feedetl_sn="F100", cnt="1", det_item_fee_sumamt="60.00"),
        dict(rows["fee_list_d"][0], feedetl_sn="F101", cnt="-1", det_item_fee_sumamt="-60.00"),  # S1 is no refund
    ]
    write_csv(root / "fee_list_d.csv", fees)
    insp = rows["inspections"] + [dict(rows["inspections"][0], insp_id="I2")]
    path = write_csv(root / "inspections.csv", insp)
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.rindex("2024Q3")], encoding="utf-8")  # cut mid-row
    write_csv(root / "insp_dr_points" / "a.csv", rows["insp_dr_points"])
    (root / "insp_dr_points" / "b.csv").write_bytes(b"")  # empty file
    write_csv(root / "claims_extra.csv", [dict(x="1")])  # unknown table
    return root


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    mp = pytest.MonkeyPatch()
    mp.setenv("FEIJIAN_PSEUDONYM_KEY", KEY)
    tmp = tmp_path_factory.mktemp("bad")
    src = _bad_export(tmp / "src")
    report = ingest(src, tmp / "ws", max_reject_share=1.0, now=NOW, allow_unreadable_files=True)
    yield report, tmp / "ws"
    mp.undo()


def _quarantine(ws: Path, table: str) -> list[dict[str, object]]:
    files = list((ws / "quarantine").glob(f"*/{table}.parquet"))
    assert len(files) == 1, files
    return duckdb.sql(f"SELECT * FROM read_parquet('{files[0]}')").to_arrow_table().to_pylist()


def _ids(ws: Path, table: str, key: str) -> set[str]:
    return {r[0] for r in duckdb.sql(f"SELECT {key} FROM read_parquet('{ws}/raw/{table}/**/*.parquet', "
                                     "hive_partitioning = true)").fetchall()}


CASES = [  # (kind, table, substring of the quarantined row's file/value/reason, words in the reason)
    ("wrong type", "fixmedins", "H009", ["open_beds", "'many'", "not an integer"]),
    ("unreadable parquet", "fixmedins", "b.parquet", ["cannot read Parquet"]),
    ("dangling reference", "dr_info", "D08", ["H999", "not found in fixmedins"]),
    ("future date", "dr_info", "D09", ["begndate", "future"]),
    ("duplicate key", "dr_info", "儿科", ["duplicate key", "dr_code = 'D01'", "row 2"]),
    ("gbk read as utf-8", "dr_info", "b.csv", ["utf-8", "--encoding gbk"]),
    ("unknown code", "catalog", "C009", ["list_type", "'999'", "not a known code"]),
    ("missing column", "catalog", "C010", ["missing column ref_price"]),
    ("reconciliation", "setl_d", "S3", ["does not reconcile", "30.0", "31.0"]),
    ("negative amount", "setl_d", "S9", ["medfee_sumamt", "negative", "refd_setl_flag"]),
    ("negative fee line", "fee_list_d", "F101", ["not a refund"]),
    ("implausible amount", "setl_d", "S10", ["hifp_pay", "110101199001011234", "not plausible"]),
    ("truncated csv", "inspections", "I2", ["fields", "truncated"]),
    ("empty file", "insp_dr_points", "b.csv", ["file not read (0 bytes)", "may have been cut"]),
    ("unknown table", "_unknown", "claims_extra", ["unknown table 'claims_extra'", "fee_list_d"]),
]


@pytest.mark.parametrize(("kind", "table", "needle", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_quarantined_with_its_reason(bad_run, kind, table, needle, words) -> None:
    _, ws = bad_run
    rows = [r for r in _quarantine(ws, table) if any(needle in str(v) for v in r.values())]
    assert rows, f"{kind}: nothing quarantined matching {needle!r}"
    reason = " | ".join(str(r["reason"]) for r in rows)
    for w in words:
        assert w in reason, f"{kind}: {w!r} not in {reason!r}"
    assert all(r["file"] for r in rows)


def test_good_rows_are_kept(bad_run) -> None:
    _, ws = bad_run
    assert _ids(ws, "fixmedins", "fixmedins_code") == {"H001", "H002"}
    assert _ids(ws, "dr_info", "dr_code") == {"D01", "D02", "D03"}
    assert _ids(ws, "catalog", "med_list_codg") == {"C001", "C002", "C003"}
    assert _ids(ws, "setl_d", "setl_id") == {"S1", "S2", "S4"}  # S3 disagrees, S9 negative
    fee = _ids(ws, "fee_list_d", "feedetl_sn")
    assert "F100" in fee and "F101" not in fee
    assert "F006" in fee  # the refund's negative fee line is fine
    assert not {"F005"} & fee  # S3's fee line goes with its settlement
    assert _ids(ws, "inspections", "insp_id") == {"I1"}


def test_read_equals_accepted_plus_quarantined(bad_run) -> None:
    report, ws = bad_run
    for name, t in report.tables.items():
        assert t.read == t.accepted + t.quarantined, name
        assert t.read > 0
        stored = duckdb.sql(f"SELECT count(*) FROM read_parquet('{ws}/raw/{name}/**/*.parquet')").fetchall()[0][0]
        assert stored == t.accepted, name
    dr = report.tables["dr_info"]
    assert (dr.read, dr.quarantined, dr.files_rejected) == (6, 3, 1)  # the GBK file is rejected whole
    assert report.reconciliation["settlements_mismatched"] == 1
