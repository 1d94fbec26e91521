"""How fast an export with wrong codes is refused: `ingest --check`, and ingest's own check before the
full read, against the full read the check saves (issue #21).

    .venv/bin/python benchmarks/bench_ingest_check.py --province province/input [--copies 7] [--full]

The demo province's export (`feijian simulate` or `feijian demo`'s `province/input`) is copied with its
fee lines repeated `--copies` times under new line numbers (7 × 1.43 M ≈ 10 M), and its facility
table rewritten in another province's codes (`hospital`/`primary`/`pharmacy`, levels 0–3), which no
adapter maps. Then, each timed as a whole call in this process:

- `check_export`: the dry run (reference tables whole, a sample of the event tables);
- `ingest` as it now runs: the same check first, stopping before the full read;
- with `--full`, `ingest` with the check turned off (precheck_bytes above the export's size), which
  reads and validates every fee line before saying the same.

Prints the seconds and the verdicts; exits 1 if the check or the ingest does not refuse the export.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from features.ingest.check import check_export
from features.ingest.pipeline import ingest
from feijian.errors import RejectThresholdError

OTHER_TYPES = "CASE fixmedins_type WHEN 'pharmacy' THEN 'pharmacy' WHEN 'primary' THEN 'primary' ELSE 'hospital' END"


def build(province: Path, out: Path, copies: int) -> int:
    """The export with `copies` × the fee lines and the facility table in another province's codes."""
    for table in province.iterdir():
        if table.name not in ("fee_list_d", "fixmedins"):
            shutil.copytree(table, out / table.name)
    fix = province / "fixmedins"
    (out / "fixmedins").mkdir(parents=True)
    duckdb.sql(f"COPY (SELECT * REPLACE ({OTHER_TYPES} AS fixmedins_type, CAST(CASE WHEN hosp_lv IN ('01','02',"
               f"'03','04') THEN 3 WHEN hosp_lv IN ('05','06','07') THEN 2 WHEN hosp_lv = '11' THEN 0 ELSE 1 END "
               f"AS VARCHAR) AS hosp_lv) FROM read_parquet('{fix}/**/*.parquet')) "
               f"TO '{out}/fixmedins/part-0.parquet' (FORMAT parquet)")
    (out / "fee_list_d").mkdir()
    for k in range(copies):
        duckdb.sql(f"COPY (SELECT * REPLACE (feedetl_sn || '-{k}' AS feedetl_sn) FROM "
                   f"read_parquet('{province}/fee_list_d/**/*.parquet')) TO '{out}/fee_list_d/copy-{k:02d}.parquet' "
                   "(FORMAT parquet)")
    return duckdb.sql(f"SELECT count(*) FROM read_parquet('{out}/fee_list_d/*.parquet')").fetchall()[0][0]


def main() -> int:
    os.environ.setdefault("FEIJIAN_PSEUDONYM_KEY", secrets.token_hex(32))  # a throwaway key for the runs
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--province", type=Path, required=True, help="a simulated province's input/ folder")
    ap.add_argument("--copies", type=int, default=7)
    ap.add_argument("--full", action="store_true", help="also time the full read the check saves")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        src = Path(tmp) / "export"
        t0 = time.perf_counter()
        lines = build(args.province, src, args.copies)
        print(f"export: {lines:,} fee lines, facility codes of another province (built in "
              f"{time.perf_counter() - t0:.1f} s)")
        t0 = time.perf_counter()
        rep = check_export(src)
        print(f"ingest --check: {time.perf_counter() - t0:.2f} s, {'ok' if rep.ok else 'would fail'}; "
              f"{len(rep.unknown_codes)} unknown codes, e.g. "
              + ", ".join(f"{u.column} {u.value!r} ({u.rows})" for u in rep.unknown_codes[:3]))
        refused = [not rep.ok]
        timings = [("ingest (checks first)", 0)]
        if args.full:
            timings.append(("ingest (no check: the full read)", 1 << 62))
        for label, min_bytes in timings:
            ws = Path(tmp) / f"ws-{min_bytes}"
            t0 = time.perf_counter()
            try:
                ingest(src, ws, now="2025-06-30", precheck_bytes=min_bytes)
                print(f"{label}: loaded?! ({time.perf_counter() - t0:.1f} s)")
                refused.append(False)
            except RejectThresholdError as exc:
                print(f"{label}: refused in {time.perf_counter() - t0:.1f} s: {str(exc)[:160]}…")
                refused.append(True)
    return 0 if all(refused) else 1


if __name__ == "__main__":
    raise SystemExit(main())
