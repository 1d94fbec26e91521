"""Faults found under attack (issue 16): unreadable files in a multi-file table, mixed Parquet types,
raw identifiers on disk, CSVs cut in their last field, uncapped inspection amounts, duplicated headers."""

from __future__ import annotations

import fcntl
import json
import os
import stat
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.ingest import pipeline as ingest_mod
from features.ingest.pipeline import ingest
from feijian.errors import RejectThresholdError
from tests.test_ingest_data import NOW, arrow_table, export_rows, write_csv, write_export

KEY = "test-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEIJIAN_PSEUDONYM_KEY", KEY)
    monkeypatch.delenv("FEIJIAN_PSEUDONYM_KEY_FILE", raising=False)


def _quarantine(ws: Path, table: str) -> list[dict[str, object]]:
    files = sorted((ws / "quarantine").glob(f"*/{table}.parquet"))
    assert files, f"no quarantine for {table}"
    return duckdb.sql(f"SELECT * FROM read_parquet('{files[-1]}')").to_arrow_table().to_pylist()


def _count(ws: Path, table: str) -> int:
    return duckdb.sql(f"SELECT count(*) FROM read_parquet('{ws}/raw/{table}/**/*.parquet')").fetchall()[0][0]


def _two_file_fee_export(root: Path, fault: str) -> tuple[Path, Path]:
    """The contract export with fee_list_d in two files; the second one is damaged by `fault`."""
    rows = export_rows()
    fees = rows.pop("fee_list_d")
    write_export(root, "csv", rows)
    folder = root / "fee_list_d"
    if fault == "cut parquet":
        folder.mkdir(parents=True)
        pq.write_table(arrow_table("fee_list_d", fees[:4]), folder / "a.parquet")
        pq.write_table(arrow_table("fee_list_d", fees[4:]), folder / "b.parquet")
        data = (folder / "b.parquet").read_bytes()
        (folder / "b.parquet").write_bytes(data[: len(data) // 2])
        return root, folder / "b.parquet"
    write_csv(folder / "a.csv", fees[:4])
    write_csv(folder / "b.csv", fees[4:], encoding="gbk")
    b = folder / "b.csv"
    b.write_bytes(b.read_bytes().replace(b"A01", "科室".encode("gbk")))  # a GBK byte in a data row
    return root, b


# --- item 4: every file counts ---------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["cut parquet", "gbk among utf-8"])
def test_an_unreadable_file_fails_its_table_unless_allowed(tmp_path: Path, fault: str) -> None:
    src, bad = _two_file_fee_export(tmp_path / "src", fault)
    ws = tmp_path / "ws"
    with pytest.raises(RejectThresholdError, match=r"fee_list_d: 1 of 2 files could not be read") as exc:
        ingest(src, ws, now=NOW, max_reject_share=1.0)
    assert exc.value.exit_code != 0 and "--allow-unreadable-files" in str(exc.value)
    assert str(bad) in str(exc.value)
    report = exc.value.report  # type: ignore[attr-defined]
    assert report.status == "rejected" and report.tables["fee_list_d"].status == "failed"
    assert not (ws / "raw").exists() and not (ws / "manifest.json").exists()  # nothing loaded
    q = [r for r in _quarantine(ws, "fee_list_d") if r["file"] == str(bad)]
    assert len(q) == 1 and f"{bad.stat().st_size:,} bytes" in str(q[0]["reason"])

    rep = ingest(src, ws, now=NOW, allow_unreadable_files=True)
    fee = rep.tables["fee_list_d"]
    assert fee.status == "files not read" and rep.status == "ok"
    assert [(f["file"], f["bytes"]) for f in fee.files_not_read] == [(str(bad), bad.stat().st_size)]
    manifest = json.loads((ws / "manifest.json").read_text())
    assert manifest["files_not_read"] == [dict(table="fee_list_d", **fee.files_not_read[0])]
    assert manifest["tables"]["fee_list_d"]["files_not_read"][0]["reason"]
    assert fee.read == fee.accepted + fee.quarantined and _count(ws, "fee_list_d") == fee.accepted == 4


# --- item 10: mixed Parquet types ------------------------------------------------------------------


def _mixed_type_export(root: Path) -> Path:
    rows = export_rows()
    visits = rows.pop("mdtrt_d")
    write_export(root, "csv", rows)
    folder = root / "mdtrt_d"
    folder.mkdir()
    pq.write_table(arrow_table("mdtrt_d", visits[:2]), folder / "2024-01.parquet")  # age BIGINT
    as_text = arrow_table("mdtrt_d", visits[2:])
    ages = ["43", "abc"]
    as_text = as_text.set_column(as_text.schema.get_field_index("age"), "age", pa.array(ages, pa.string()))
    pq.write_table(as_text, folder / "2024-02.parquet")  # age VARCHAR, one value not a number
    return root


def test_parquet_files_with_different_column_types(tmp_path: Path) -> None:
    rep = ingest(_mixed_type_export(tmp_path / "src"), tmp_path / "ws", now=NOW, max_reject_share=1.0)
    m = rep.tables["mdtrt_d"]
    assert (m.read, m.accepted) == (4, 3)
    q = _quarantine(tmp_path / "ws", "mdtrt_d")
    bad = [r for r in q if r["mdtrt_id"] == "M4"]
    assert len(bad) == 1 and bad[0]["field"] == "age" and "'abc' is not an integer" in bad[0]["reason"]
    assert bad[0]["file"].endswith("2024-02.parquet") and bad[0]["row"] == 1
    ages = duckdb.sql(f"SELECT mdtrt_id, age FROM read_parquet('{tmp_path}/ws/raw/mdtrt_d/**/*.parquet') "
                      "ORDER BY 1").fetchall()
    assert ages == [("M1", 41), ("M2", 42), ("M3", 43)]


def test_a_parquet_column_of_a_type_the_contract_does_not_allow(tmp_path: Path) -> None:
    src = _mixed_type_export(tmp_path / "src")
    t = pq.read_table(src / "mdtrt_d" / "2024-01.parquet")
    i = t.schema.get_field_index("begntime")
    t = t.set_column(i, "begntime", pa.array([1_704_445_200, 1_705_744_800], pa.int64()))  # epoch seconds
    pq.write_table(t, src / "mdtrt_d" / "2024-01.parquet")
    rep = ingest(src, tmp_path / "ws", now=NOW, max_reject_share=1.0)
    issues = dict(rep.tables["mdtrt_d"].file_issues)
    reason = issues[str(src / "mdtrt_d" / "2024-01.parquet")]
    assert "begntime" in reason and "BIGINT" in reason and "timestamp" in reason
    q = [r for r in _quarantine(tmp_path / "ws", "mdtrt_d") if str(r["file"]).endswith("2024-01.parquet")]
    assert len(q) == 2 and all(r["field"] == "begntime" for r in q)


# --- item 9: no raw identifier on disk, dead runs' temp removed, restrictive modes -----------------

RAW_IDS = [b"P001", b"P002", b"P003", b"110101199001010001", b"110101199001010002"]


def _leaks(root: Path) -> list[str]:
    out = []
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink():
            data = p.read_bytes()
            out += [f"{p}: {raw.decode()}" for raw in RAW_IDS if raw in data]
    return out


def test_staging_holds_no_raw_identifier_and_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}
    real = ingest_mod.iw.new_version_dir

    def look(ws: Path) -> Path:  # called after every file is staged and validated, before the write
        staged = list((ws / ".tmp").rglob("*.parquet"))
        seen.update(staged=staged, leaks=_leaks(ws),
                    modes={str(p): stat.S_IMODE(p.stat().st_mode) for p in staged},
                    tmp_mode=stat.S_IMODE((ws / ".tmp").stat().st_mode))
        return real(ws)

    monkeypatch.setattr(ingest_mod.iw, "new_version_dir", look)
    ingest(write_export(tmp_path / "src", "csv"), tmp_path / "ws", now=NOW)
    assert seen["staged"] and seen["leaks"] == []
    assert set(seen["modes"].values()) == {0o600} and seen["tmp_mode"] == 0o700  # type: ignore[union-attr]


def test_a_shifted_csv_row_leaks_no_identifier(tmp_path: Path) -> None:
    rows = export_rows()
    rows["mdtrt_d"][1]["mdtrt_id"] = "M2,X"  # an unquoted comma: psn_no and certno move one column right
    src = write_export(tmp_path / "src", "csv", rows)
    path = src / "mdtrt_d.csv"
    path.write_text(path.read_text(encoding="utf-8").replace('"M2,X"', "M2,X"), encoding="utf-8")
    ws = tmp_path / "ws"
    rep = ingest(src, ws, now=NOW, max_reject_share=1.0)
    assert rep.tables["mdtrt_d"].quarantined >= 1
    q = [r for r in _quarantine(ws, "mdtrt_d") if r["row"] == 3]
    assert len(q) == 1 and "fields" in str(q[0]["reason"])
    assert _leaks(ws) == []
    qdir = Path(rep.quarantine_dir or "")
    assert stat.S_IMODE(qdir.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in qdir.iterdir()} == {0o600}


def test_dead_runs_temp_is_removed_and_a_live_one_kept(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    src = write_export(tmp_path / "src", "csv")
    ingest(src, ws, now=NOW)
    dead = ws / ".tmp" / "20240101T000000Z-dead"  # a run killed before this fix: no lock at all
    (dead / "staging").mkdir(parents=True)
    (dead / "staging" / "csv-0.parquet").write_bytes(b"P001,110101199001010001")
    killed = ws / ".tmp" / "20240102T000000Z-kill"  # a killed run: its lock file stayed, nobody holds it
    (killed / "staging").mkdir(parents=True)
    (ws / ".tmp" / "20240102T000000Z-kill.lock").touch()
    live = ws / ".tmp" / "20240103T000000Z-live"  # a run still going: it holds its lock
    (live / "staging").mkdir(parents=True)
    fd = os.open(ws / ".tmp" / "20240103T000000Z-live.lock", os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        ingest(src, ws, now=NOW)
        left = sorted(p.name for p in (ws / ".tmp").iterdir())
    finally:
        os.close(fd)
    assert left == ["20240103T000000Z-live", "20240103T000000Z-live.lock"]


# --- item 12: a CSV cut inside its last field ------------------------------------------------------


@pytest.mark.parametrize(("tail", "words"), [
    (lambda t: t.rstrip("\r\n")[:-1], "does not end with a line break"),  # '12' becomes '1', no newline
    (lambda t: t.rstrip("\r\n")[:-2] + '"1', "unterminated quote"),  # an opened quote, then the end
    (lambda t: t.rstrip("\r\n")[:-2] + '"1\r\n', "unterminated quote"),  # ... even with a final newline
])
def test_a_csv_cut_in_its_last_field(tmp_path: Path, tail, words: str) -> None:
    rows = export_rows()
    rows["insp_dr_points"] = [dict(insp_id="I1", dr_code="D01", points="3"),
                              dict(insp_id="I1", dr_code="D02", points="12")]
    src = write_export(tmp_path / "src", "csv", rows)
    path = src / "insp_dr_points.csv"
    path.write_bytes(tail(path.read_bytes().decode()).encode())
    rep = ingest(src, tmp_path / "ws", now=NOW, max_reject_share=1.0)
    t = rep.tables["insp_dr_points"]
    assert (t.read, t.accepted, t.quarantined) == (2, 1, 1)
    q = _quarantine(tmp_path / "ws", "insp_dr_points")
    assert len(q) == 1 and q[0]["row"] == 3 and words in str(q[0]["reason"]), q
    assert duckdb.sql(f"SELECT points FROM read_parquet('{tmp_path}/ws/raw/insp_dr_points/*.parquet')"
                      ).fetchall() == [(3,)]


# --- low: inspection amounts, duplicated headers ---------------------------------------------------


def test_inspection_amounts_are_capped_and_consistent(tmp_path: Path) -> None:
    rows = export_rows()
    i1 = rows["inspections"][0]
    rows["inspections"] += [dict(i1, insp_id="I2", amount_involved="1e12", amount_recovered="0"),
                            dict(i1, insp_id="I3", fine_amount="110101199001011234"),
                            dict(i1, insp_id="I4", amount_involved="100", amount_recovered="900"),
                            dict(i1, insp_id="I5", amount_involved="100", amount_recovered="100",
                                 fine_amount="500")]  # a 5x fine is lawful (fraud)
    rep = ingest(write_export(tmp_path / "src", "csv", rows), tmp_path / "ws", now=NOW, max_reject_share=1.0)
    assert rep.tables["inspections"].accepted == 2
    why = {r["insp_id"]: (r["field"], r["reason"]) for r in _quarantine(tmp_path / "ws", "inspections")}
    assert why["I2"][0] == "amount_involved" and "not plausible" in why["I2"][1]
    assert why["I3"][0] == "fine_amount" and "not plausible" in why["I3"][1]
    assert why["I4"][0] == "amount_recovered" and "above amount_involved" in why["I4"][1]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_duplicated_header_column_is_an_error(tmp_path: Path, fmt: str) -> None:
    rows = export_rows()
    src = write_export(tmp_path / "src", "csv", rows)
    (src / "fixmedins.csv").unlink()
    header = [*rows["fixmedins"][0], "open_beds"]
    if fmt == "csv":
        path = write_csv(src / "fixmedins.csv", rows["fixmedins"], header=header)
    else:
        t = arrow_table("fixmedins", rows["fixmedins"])
        t = pa.table([*t.columns, pa.array([1, 2], pa.int64())], names=header)
        (src / "fixmedins").mkdir()
        pq.write_table(t, path := src / "fixmedins" / "part-0.parquet")
    with pytest.raises(RejectThresholdError):
        ingest(src, tmp_path / "ws", now=NOW)
    q = _quarantine(tmp_path / "ws", "fixmedins")
    assert {r["file"] for r in q} == {str(path)} and len(q) == 2
    assert all(r["field"] == "open_beds" and "appears 2 times" in str(r["reason"]) for r in q)


def test_the_cli_exits_3_on_an_unreadable_file_and_loads_the_rest_with_the_flag(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from feijian.cli import app

    src, bad = _two_file_fee_export(tmp_path / "src", "cut parquet")
    runner = CliRunner(env={"COLUMNS": "250", "FEIJIAN_PSEUDONYM_KEY": KEY})
    args = ["ingest", str(src), "--workspace", str(tmp_path / "ws"), "--now", NOW, "--max-reject-share", "1"]
    failed = runner.invoke(app, args)
    assert failed.exit_code == 3 and "--allow-unreadable-files" in failed.output
    loaded = runner.invoke(app, [*args, "--allow-unreadable-files"])
    assert loaded.exit_code == 0 and "not read" in loaded.output and bad.name in loaded.output
