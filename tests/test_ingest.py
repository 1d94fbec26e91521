"""ingest: pseudonyms, idempotence and upsert, atomic writes, the reject threshold, adapters, GBK."""

from __future__ import annotations

import os
import stat
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from features.ingest import write as ingest_write
from features.ingest.adapters.config import load_adapter
from features.ingest.pipeline import ingest
from features.ingest.pseudonym import ensure_demo_key, key_id
from feijian.errors import ConfigError, RejectThresholdError
from tests.test_ingest_data import NOW, export_rows, write_csv, write_export

KEY = "test-key-0123456789abcdef"
ADAPTER = Path(__file__).resolve().parents[1] / "features" / "ingest" / "adapters" / "example_province.toml"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEIJIAN_PSEUDONYM_KEY", KEY)
    monkeypatch.delenv("FEIJIAN_PSEUDONYM_KEY_FILE", raising=False)


def table(ws: Path, name: str, order: str) -> list[tuple]:
    cols = "* EXCLUDE (month)" if name in ("mdtrt_d", "setl_d", "fee_list_d") else "*"
    return duckdb.sql(f"SELECT {cols} FROM read_parquet('{ws}/raw/{name}/**/*.parquet', hive_partitioning = true) "
                      f"ORDER BY {order}").fetchall()


def test_csv_and_parquet_exports_load_the_same_typed_rows(tmp_path: Path) -> None:
    ingest(write_export(tmp_path / "csv", "csv"), tmp_path / "a", now=NOW)
    ingest(write_export(tmp_path / "pq", "parquet"), tmp_path / "b", now=NOW)
    for name, key in (("fee_list_d", "feedetl_sn"), ("catalog", "med_list_codg"), ("setl_d", "setl_id")):
        assert table(tmp_path / "a", name, key) == table(tmp_path / "b", name, key)
    types = dict(duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{tmp_path}/a/raw/fee_list_d/**/*.parquet', "
                            "hive_partitioning = true)").fetchall()[i][:2] for i in range(17))
    assert types["fee_ocur_time"] == "TIMESTAMP" and types["cnt"] == "DOUBLE" and types["month"] == "VARCHAR"
    assert sorted(p.name for p in (tmp_path / "a" / "raw" / "fee_list_d").iterdir()) == ["month=2024-01",
                                                                                        "month=2024-02"]


def test_coercion_of_untidy_text(tmp_path: Path) -> None:
    rows = export_rows()
    first = rows["fee_list_d"][0]
    code, level = first["med_list_codg"], first["chrgitm_lv"]
    first.update(fee_ocur_time="2024/01/05 09:00:00", pric=" 60.00 ", cnt="1.0", med_list_codg=f"\u3000{code} ",
                 chrgitm_lv=f" {level}\u00a0", trace_code=" \u3000 ")  # ideographic and no-break spaces too
    rows["fixmedins"][0]["begndate"] = "2010/01/01"
    rep = ingest(write_export(tmp_path / "src", "csv", rows), tmp_path / "ws", now=NOW)
    assert all(t.quarantined == 0 for t in rep.tables.values())  # the padded code still finds its catalogue row
    f = table(tmp_path / "ws", "fee_list_d", "feedetl_sn")[0]
    assert f[5] == datetime(2024, 1, 5, 9) and f[10] == 1.0 and f[11] == 60.0
    assert (f[6], f[9], f[15]) == (code, level, None)


def test_pseudonyms_are_keyed_and_raw_ids_never_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_export(tmp_path / "src", "csv")
    ingest(src, tmp_path / "a", now=NOW)
    ingest(src, tmp_path / "b", now=NOW)
    monkeypatch.setenv("FEIJIAN_PSEUDONYM_KEY", "another-key-0123456789")
    ingest(src, tmp_path / "c", now=NOW)
    psn = {w: [r[0] for r in duckdb.sql(f"SELECT psn_no FROM read_parquet('{tmp_path}/{w}/raw/setl_d/**/*.parquet') "
                                        "ORDER BY setl_id").fetchall()] for w in "abc"}
    assert psn["a"] == psn["b"] != psn["c"]
    assert psn["a"][0] == psn["a"][2] != psn["a"][1]  # P001 twice, P002 once: linkage kept
    assert all(len(p) == 64 for p in psn["a"])
    for p in (tmp_path / "a").rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            assert b"P001" not in data and b"110101199001010001" not in data, p


def test_missing_key_names_the_command_and_both_env_vars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEIJIAN_PSEUDONYM_KEY")
    with pytest.raises(ConfigError, match=r"feijian key new.*FEIJIAN_PSEUDONYM_KEY_FILE.*FEIJIAN_PSEUDONYM_KEY\b"):
        ingest(write_export(tmp_path / "src", "csv"), tmp_path / "ws", now=NOW)
    path = ensure_demo_key(tmp_path / "ws")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    rep = ingest(tmp_path / "src", tmp_path / "ws", now=NOW)
    assert rep.pseudonym_key_id == key_id(path.read_bytes().strip())
    assert path.read_bytes().strip().decode() not in (tmp_path / "ws" / "manifest.json").read_text()


def test_rerun_adds_nothing_and_a_later_export_updates(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    src = write_export(tmp_path / "src", "csv")
    first = ingest(src, ws, now=NOW)
    second = ingest(src, ws, now=NOW)
    for name, t in second.tables.items():
        assert (t.inserted, t.updated) == (0, first.tables[name].accepted), name
    assert len(table(ws, "fee_list_d", "feedetl_sn")) == 6
    rows = export_rows()
    rows["catalog"][0]["ref_price"] = "65"
    later = {"catalog": rows["catalog"] + [dict(rows["catalog"][0], med_list_codg="C004", name="新项目")]}
    rep = ingest(write_export(tmp_path / "later", "csv", later), ws, now=NOW)
    assert (rep.tables["catalog"].inserted, rep.tables["catalog"].updated) == (1, 3)
    cat = {r[0]: r for r in table(ws, "catalog", "med_list_codg")}
    assert len(cat) == 4 and cat["C001"][5] == 65.0
    assert len(table(ws, "fee_list_d", "feedetl_sn")) == 6  # tables not in the export are carried over
    versions = sorted(p.name for p in (ws / "data").iterdir())
    assert versions == ["v-2", "v-3"]  # old versions are cleaned


def test_a_failed_write_leaves_the_previous_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = tmp_path / "ws"
    ingest(write_export(tmp_path / "src", "csv"), ws, now=NOW)
    before = {n: table(ws, n, "1") for n in ("catalog", "fee_list_d", "setl_d")}
    manifest = (ws / "manifest.json").read_text()
    real, calls = ingest_write.write_table, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise OSError("disk full (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest_write, "write_table", flaky)
    rows = export_rows()
    rows["catalog"][0]["ref_price"] = "99"
    with pytest.raises(OSError, match="simulated"):
        ingest(write_export(tmp_path / "src2", "csv", rows), ws, now=NOW)
    assert {n: table(ws, n, "1") for n in before} == before
    assert (ws / "manifest.json").read_text() == manifest
    assert sorted(p.name for p in (ws / "data").iterdir()) == ["v-1"]


def test_reject_threshold_stops_the_run(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ingest(write_export(tmp_path / "src", "csv"), ws, now=NOW)
    rows = export_rows()
    rows["catalog"][1]["list_type"] = "X"
    before = table(ws, "catalog", "med_list_codg")
    with pytest.raises(RejectThresholdError, match=r"catalog: 1 of 3 rows quarantined") as exc:
        ingest(write_export(tmp_path / "src2", "csv", rows), ws, now=NOW, max_reject_share=0.2)
    assert exc.value.exit_code == 3
    assert table(ws, "catalog", "med_list_codg") == before
    assert len(list((ws / "quarantine").glob("*/catalog.csv"))) == 1


def _province_export(root: Path) -> Path:
    """The contract export rewritten in example_province's layout: GBK, renamed, variant codes."""
    ad = load_adapter(ADAPTER)
    rows = export_rows()
    inverse = {"gend": {"1": "M", "2": "F"}, "med_type": {"11": "101", "21": "201"},
               "chrgitm_lv": {"01": "甲"}, "ownership": {"public": "公立"}}
    compact = {"begntime", "endtime", "setl_time", "fee_ocur_time", "begndate"}
    for name, rs in rows.items():
        ta = ad.table(name)
        out = []
        for r in rs:
            o = {}
            for col, v in r.items():
                if col in ta.defaults:
                    continue
                v = inverse.get(col, {}).get(v, v) if name in ad.tables else v
                if col in compact and name in ad.tables:
                    v = v.replace("-", "").replace(" ", "").replace(":", "")
                o[ta.export_column(col)] = v
            out.append(o)
        write_csv(root / f"{ta.source or name}.csv", out, encoding="gbk")
    return root


def test_adapter_round_trip(tmp_path: Path) -> None:
    src = _province_export(tmp_path / "province")
    assert (src / "FYMX.csv").read_bytes().startswith(b"MXLSH")
    rep = ingest(src, tmp_path / "ws", adapter=ADAPTER, now=NOW)
    assert all(t.quarantined == 0 for t in rep.tables.values()), rep.tables
    ref = export_rows()
    for r in ref["mdtrt_d"]:
        r["certno"] = ""  # the province does not export certno; the adapter defaults it to empty
    ingest(write_export(tmp_path / "contract", "csv", ref), tmp_path / "ref", now=NOW)
    for name, key in (("mdtrt_d", "mdtrt_id"), ("fee_list_d", "feedetl_sn"), ("fixmedins", "fixmedins_code"),
                      ("setl_d", "setl_id")):
        assert table(tmp_path / "ws", name, key) == table(tmp_path / "ref", name, key), name


def test_gbk_needs_the_flag(tmp_path: Path) -> None:
    src = tmp_path / "src"
    rows = export_rows()
    for name, rs in rows.items():
        write_csv(src / f"{name}.csv", rs, encoding="gbk")
    with pytest.raises(RejectThresholdError, match="could be read"):
        ingest(src, tmp_path / "ws", now=NOW)
    q = duckdb.sql(f"SELECT reason FROM read_parquet('{tmp_path}/ws/quarantine/*/fixmedins.parquet')").fetchall()
    assert "--encoding gbk" in q[0][0]
    rep = ingest(src, tmp_path / "ws", encoding="gbk", now=NOW)
    assert rep.tables["fixmedins"].accepted == 2
    sql = f"SELECT fixmedins_name FROM read_parquet('{tmp_path}/ws/raw/fixmedins/*.parquet')"
    names = {r[0] for r in duckdb.sql(sql).fetchall()}
    assert "第一人民医院" in names


def test_manifest(tmp_path: Path) -> None:
    import json

    rep = ingest(write_export(tmp_path / "src", "csv"), tmp_path / "ws", now=NOW)
    m = json.loads((tmp_path / "ws" / "manifest.json").read_text())
    assert m["run_id"] == rep.run_id and m["schema_version"] and len(m["fingerprint"]["sha256"]) == 64
    assert m["tables"]["fee_list_d"]["accepted"] == 6 and m["reconciliation"]["settlements_ok"] == 4
    assert m["pseudonym_key_id"] == key_id(KEY.encode()) and KEY not in json.dumps(m)
    assert os.path.islink(tmp_path / "ws" / "raw")
