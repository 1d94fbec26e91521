"""`feijian ingest --check`: a dry run on the reference tables and a sample of the rest that says what
the real ingest would, in seconds, and writes nothing; the real ingest runs it first and stops before
the full read when the run cannot pass."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from features.ingest.check import check_export, suggest
from features.ingest.pipeline import ingest
from features.schema import TABLES
from feijian.errors import RejectThresholdError
from tests.test_adapter_derive import INDEPENDENT, contract_rows, independent_export
from tests.test_ingest_data import NOW, arrow_table, export_rows, write_csv, write_export


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEIJIAN_PSEUDONYM_KEY", "test-key-0123456789abcdef")
    monkeypatch.delenv("FEIJIAN_PSEUDONYM_KEY_FILE", raising=False)


def _adapter_without(tmp_path: Path, *lines: str) -> Path:
    """The independent province's adapter with some of its code lines taken out."""
    text = INDEPENDENT.read_text(encoding="utf-8")
    for line in lines:
        assert line in text
        text = text.replace(line + "\n", "")
    p = tmp_path / "hb.toml"
    p.write_text(text, encoding="utf-8")
    if not (tmp_path / "codes").exists():
        shutil.copytree(INDEPENDENT.parent / "codes", tmp_path / "codes")  # the code lists it names
    return p


def test_a_good_export_checks_ok_and_nothing_is_written(tmp_path: Path) -> None:
    src = independent_export(tmp_path / "hb", contract_rows())
    before = sorted(p.name for p in src.iterdir())
    rep = check_export(src, INDEPENDENT, now=None)
    assert rep.ok and rep.failures == [] and rep.unknown_codes == []
    assert rep.tables["mdtrt_d"].columns["age"].startswith("derived: date_sub(")
    assert rep.tables["mdtrt_d"].columns["psn_no"] == "mapped from person"
    assert rep.tables["inspections"].columns["insp_type"] == "absent (optional: NULL)"
    assert rep.tables["mdtrt_d"].columns["certno"] == "absent (optional: NULL)"
    assert rep.tables["catalog"].columns["ref_price"] == "derived: CAST(price_fen AS DOUBLE) / 100"
    assert sorted(p.name for p in src.iterdir()) == before and not list(tmp_path.glob("ws*"))


def test_unknown_codes_are_listed_with_counts_and_the_adapter_line_that_maps_them(tmp_path: Path) -> None:
    src = independent_export(tmp_path / "hb", contract_rows())
    ad = _adapter_without(tmp_path, '"hospital" = "general"', '"tip-off" = "tip_off"', '"公立" = "public"')
    findings = (src / "findings.csv").read_text(encoding="utf-8").replace(",random,", ",tip-off,")
    (src / "findings.csv").write_text(findings, encoding="utf-8")
    rep = check_export(src, ad)
    found = {(u.table, u.column, u.value): (u.rows, u.line) for u in rep.unknown_codes}
    assert found == {
        ("fixmedins", "fixmedins_type", "hospital"): (1, '"hospital" = ""'),
        ("fixmedins", "ownership", "公立"): (2, '"公立" = "public"'),
        ("inspections", "selection", "tip-off"): (1, '"tip-off" = "tip_off"'),
    }
    assert not rep.ok
    assert "fixmedins: 2 of 2 rows rejected (100.0%, limit 5%)" in rep.failures
    cascade = next(f for f in rep.failures if f.startswith("fee_list_d:"))
    assert cascade.endswith("mostly as fixmedins_code not found in fixmedins: fix fixmedins first")


def test_the_command_prints_the_lines_and_exits_3_when_the_ingest_would_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feijian.cli import app

    monkeypatch.chdir(tmp_path)  # no ./workspace whose reference tables would count
    monkeypatch.delenv("FEIJIAN_WORKSPACE", raising=False)
    src = independent_export(tmp_path / "hb", contract_rows())
    ad = _adapter_without(tmp_path, '"hospital" = "general"')
    res = CliRunner().invoke(app, ["ingest", "--check", str(src), "--adapter", str(ad)], env={"COLUMNS": "200"})
    assert res.exit_code == 3, res.output
    assert "[tables.fixmedins.values.fixmedins_type]" in res.output and '"hospital" = ""' in res.output
    assert "would fail" in res.output and not (tmp_path / "workspace").exists()
    ok = CliRunner().invoke(app, ["ingest", "--check", str(src), "--adapter", str(INDEPENDENT)], env={"COLUMNS": "200"})
    assert ok.exit_code == 0 and "the ingest would pass" in ok.output, ok.output


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_event_tables_are_sampled_and_their_references_between_them_not_checked(tmp_path: Path, fmt: str) -> None:
    rows = export_rows()
    fee = rows["fee_list_d"][0]
    more = [{**fee, "feedetl_sn": f"X{i}", "setl_id": "S-ELSEWHERE"} for i in range(30_000)]
    if fmt == "parquet":
        src = write_export(tmp_path / "src", "parquet", rows)
        for k in range(2):
            pq.write_table(arrow_table("fee_list_d", more), src / "fee_list_d" / f"part-{k + 1}.parquet")
    else:
        src = write_export(tmp_path / "src", "csv", rows)
        with (src / "fee_list_d.csv").open("a", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            for r in more:
                w.writerow([r[c] for c in fee])
    rep = check_export(src, sample_rows=2_000)
    fees = rep.tables["fee_list_d"]
    assert fees.sampled and 2_000 <= fees.rows < 12_000 and fees.rejected == 0, fees  # settlements not in the sample
    assert rep.tables["catalog"].rows == 3 and not rep.tables["catalog"].sampled
    assert rep.ok


def test_references_are_checked_against_the_workspace_too(tmp_path: Path) -> None:
    rows = export_rows()
    ingest(write_export(tmp_path / "first", "csv", rows), tmp_path / "ws", now=NOW)
    later = {k: v for k, v in rows.items() if k in ("mdtrt_d", "setl_d", "fee_list_d")}
    src = write_export(tmp_path / "later", "csv", later)
    assert not check_export(src).ok  # facilities and the catalog are nowhere
    assert check_export(src, workspace=tmp_path / "ws").ok


def test_ingest_stops_before_the_full_read_when_the_check_says_it_cannot_pass(tmp_path: Path) -> None:
    src = independent_export(tmp_path / "hb", contract_rows())
    ad = _adapter_without(tmp_path, '"hospital" = "general"')  # one of the two facilities' type
    with pytest.raises(RejectThresholdError, match=r"ingest stopped before reading the event tables in full, the "
                                                   r"workspace is unchanged: fixmedins: 1 of 2 rows rejected") as exc:
        ingest(src, tmp_path / "ws", adapter=ad, now=NOW, precheck_bytes=0)
    assert exc.value.exit_code == 3 and exc.value.check.unknown_codes  # type: ignore[attr-defined]
    assert not (tmp_path / "ws" / "raw").exists() and not (tmp_path / "ws" / "quarantine").exists()
    rep = ingest(src, tmp_path / "ws", adapter=INDEPENDENT, now=NOW, precheck_bytes=0)
    assert rep.status == "ok" and all(t.quarantined == 0 for t in rep.tables.values())


@pytest.mark.parametrize(
    ("table", "column", "value", "code"),
    [("inspections", "selection", "tip-off", "tip_off"), ("inspections", "selection", "Random", "random"),
     ("fixmedins", "ownership", "公立", "public"), ("fixmedins", "hosp_lv", "三级甲等医院", "02"),
     ("fixmedins", "fixmedins_type", "hospital", None), ("fixmedins", "hosp_lv", "三级", None)],
)
def test_suggestions_match_a_code_or_its_label_never_a_guess(table: str, column: str, value: str,
                                                             code: str | None) -> None:
    assert suggest(TABLES[table].column(column), value) == code


def test_an_empty_folder_or_a_header_only_table_does_not_stop_a_good_ingest(tmp_path: Path) -> None:
    src = write_export(tmp_path / "src", "csv", export_rows())
    header = (src / "inspections.csv").read_text(encoding="utf-8").splitlines()[0]
    (src / "inspections.csv").write_text(header + "\n", encoding="utf-8")  # no findings this month
    (src / "insp_dr_points.csv").unlink()
    (src / "insp_dr_points").mkdir()
    (src / "insp_dr_points" / "README.txt").write_text("points come next month", encoding="utf-8")
    rep = check_export(src)
    assert rep.ok, rep.failures
    assert rep.tables["insp_dr_points"].files == 0 and rep.tables["inspections"].files_read == 1
    assert ingest(src, tmp_path / "ws", now=NOW, precheck_bytes=0).status == "ok"


def test_a_sample_of_some_files_is_never_certain_enough_to_stop_the_ingest(tmp_path: Path) -> None:
    """Old files in another layout are seen (first, middle, last), but only the whole table decides."""
    rows = export_rows()
    src = write_export(tmp_path / "src", "csv", rows)
    header = list(rows["fee_list_d"][0])
    (src / "fee_list_d.csv").unlink()
    for k in range(9):  # fee lines spread over nine monthly files; the first three in an old layout
        part = rows["fee_list_d"][k % len(rows["fee_list_d"]):][:1]
        if k < 3:
            part = [{**r, "cnt": "one"} for r in part]
        write_csv(src / "fee_list_d" / f"{2019 + (k >= 3) * 5}-{k + 1:02d}.csv",
                  [{**r, "feedetl_sn": f"{r['feedetl_sn']}-{k}"} for r in part], header=header)
    rep = check_export(src)
    fees = rep.tables["fee_list_d"]
    assert fees.files == 9 and fees.files_sampled == 3 and fees.rejected >= 1
    assert not any(f.startswith("fee_list_d") for f in rep.certain)


def test_a_workspace_with_a_plain_raw_folder_lends_its_reference_tables(tmp_path: Path) -> None:
    rows = export_rows()
    ingest(write_export(tmp_path / "first", "csv", rows), tmp_path / "ws", now=NOW)
    ws = tmp_path / "ws"
    target = (ws / "raw").resolve()
    (ws / "raw").unlink()
    shutil.copytree(target, ws / "raw")  # as an older feijian, or a copy by hand, left it
    later = write_export(tmp_path / "later", "csv", {k: v for k, v in rows.items()
                                                   if k in ("mdtrt_d", "setl_d", "fee_list_d")})
    assert check_export(later, workspace=ws).ok
    assert ingest(later, ws, now=NOW, precheck_bytes=0).status == "ok"
