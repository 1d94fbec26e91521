"""The bad-input classes tried on ingest: rows in, accepted, quarantined, one class at a time.

    .venv/bin/python benchmarks/bench_bad_inputs.py [--seed 7]

A clean export (tests/fault_exports.py) is ingested once into a base workspace; then for each fault
class the same export with that one fault is written (only the table the fault is about, with
setl_d and fee_list_d together so fee lines are reconciled), ingested into a copy of the base
workspace (so references resolve and one table's fault does not cascade into the others) with
--max-reject-share 1 and --allow-unreadable-files, and the table's counts are printed:

- rows in: data rows in the table's files as written (after the damage), those of unreadable files too;
- read / accepted / quarantined as ingest reports them (read = accepted + quarantined);
- not read: files ingest could not read (and the rows they held), listed in the manifest;
- leak: raw psn_no/certno bytes found anywhere under the workspace (must be 0).

The script exits 1 if any class breaks rows in = read + rows of files not read, read = accepted +
quarantined, or leaks an identifier.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from features.ingest.pipeline import ingest
from tests.fault_exports import FAULTS, Export
from tests.test_ingest_data import NOW
from tests.test_ingest_props import leaks

PAIRED = ("setl_d", "fee_list_d")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    os.environ.setdefault("FEIJIAN_PSEUDONYM_KEY", "bench-key-0123456789abcdef")
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        Export.build(args.seed).write(Path(tmp) / "clean")
        ingest(Path(tmp) / "clean", base, now=NOW)
        print("| # | class | table | rows in | read | accepted | quarantined | not read (rows) | leak |")
        print("|---|---|---|---:|---:|---:|---:|---:|---:|")
        for i, (name, (table, apply)) in enumerate(FAULTS.items(), start=1):
            export = Export.build(args.seed)
            apply(export)
            src, ws = Path(tmp) / f"src-{i}", Path(tmp) / f"ws-{i}"
            written = export.write(src, list(PAIRED) if table in PAIRED else [table])[table]
            shutil.copytree(base, ws, symlinks=True)
            rep = ingest(src, ws, max_reject_share=1.0, allow_unreadable_files=True, now=NOW)
            t = rep.tables[table]
            unread_rows = int(written["unread_rows"])  # type: ignore[call-overload]
            rows_in = int(written["rows"]) + unread_rows  # type: ignore[call-overload]
            leaked = leaks(ws, export.raw_ids)
            ok = t.read == t.accepted + t.quarantined and rows_in == t.read + unread_rows and not leaked
            bad += not ok
            print(f"| {i} | {name} | {table} | {rows_in} | {t.read} | {t.accepted} | {t.quarantined} | "
                  f"{len(t.files_not_read)} ({unread_rows}) | {len(leaked)}{'' if ok else ' ✗'} |")
            shutil.rmtree(ws)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
