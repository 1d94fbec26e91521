"""Compare two demo runs item by item: snapshots, bundle, planned round, evaluation.

    .venv/bin/python benchmarks/compare_runs.py RUN_A RUN_B

Each RUN is the folder given to `feijian demo --no-serve --workspace RUN/ws --out RUN/province
--mlruns RUN/mlruns --models RUN/models`. Prints one row per item (matched, or what differs) and exits
1 when anything differs. Feature tables and the served scores and contributions
(workspace/explanations/) are compared by value, rows sorted by every column so row order does not
count; the bundle's boosters and calibration byte for byte; the round plan cell by cell (openpyxl);
evaluation.json's numbers leaf by leaf (timestamps and paths are not numbers).

The demo draws a new pseudonym key for each workspace, so pseudonym columns are checked to pair one
to one, and the pseudonym prefixes texts quote and the input hash ending a snapshot id are masked.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import pandas as pd

# Pseudonyms: the demo draws a new pseudonym key for each workspace, so two runs pseudonymise the same
# person differently. These columns are compared apart, by whether they agree row for row.
PSEUDONYMS = ("psn_no", "certno")
# Texts quote a pseudonym's first 8 hex digits ("参保人4fa97313…"); snapshot ids end in a hash of the inputs.
PSEUDONYM_TEXT = re.compile(r"[0-9a-f]{8}…")
SNAPSHOT_HASH = re.compile(r"^(\d{4}-\d{2}-\d{2}_w\d+)_[0-9a-f]{8}$")


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return SNAPSHOT_HASH.sub(r"\1_<hash>", PSEUDONYM_TEXT.sub("<pseudonym>…", value))
    return value


BUNDLE_FILES = ("facility_risk.txt", "facility_amount.txt", "physician_risk.txt", "calibration.json")


def _frame_equal(a: Path, b: Path) -> str:
    fa, fb = pd.read_parquet(a), pd.read_parquet(b)
    if list(fa.columns) != list(fb.columns):
        return f"columns differ: {sorted(set(fa.columns) ^ set(fb.columns))[:5]}"
    if len(fa) != len(fb):
        return f"rows {len(fa)} vs {len(fb)}"
    cols = [c for c in fa.columns if c not in PSEUDONYMS]
    fa = fa.sort_values(cols, kind="mergesort").reset_index(drop=True)
    fb = fb.sort_values(cols, kind="mergesort").reset_index(drop=True)
    diff = [c for c in cols if not fa[c].equals(fb[c])]
    texts = [c for c in diff if fa[c].map(_masked).equals(fb[c].map(_masked))]
    diff = [c for c in diff if c not in texts]
    if diff:
        return f"values differ in {len(diff)} column(s), e.g. {diff[:3]}"
    pseudo = [c for c in fa.columns if c in PSEUDONYMS]
    # the same person: equal pseudonyms pair up one to one between the runs
    split = []
    for c in pseudo:
        a, b = fa[c].fillna("<NA>"), fb[c].fillna("<NA>")
        if not len(set(zip(a, b, strict=True))) == a.nunique() == b.nunique():
            split.append(c)
    return f"pseudonyms do not pair one to one: {split}" if split else ""


def snapshots(a: Path, b: Path) -> list[tuple[str, str]]:
    rows = []
    fa, fb = a / "ws" / "features", b / "ws" / "features"
    # a snapshot id ends in a hash of the inputs, which hold the pseudonyms: pair them by as_of and window
    by_a = {p.name.rsplit("_", 1)[0]: p for p in fa.iterdir() if p.is_dir()}
    by_b = {p.name.rsplit("_", 1)[0]: p for p in fb.iterdir() if p.is_dir()}
    rows.append(("snapshot windows", "" if sorted(by_a) == sorted(by_b) else f"{sorted(by_a)} vs {sorted(by_b)}"))
    for key in sorted(set(by_a) & set(by_b)):
        da, db = by_a[key], by_b[key]
        files = sorted(p.name for p in da.glob("*.parquet"))
        bad = [f"{f}: {why}" for f in files if (why := _frame_equal(da / f, db / f))]
        ma, mb = (json.loads((d / "meta.json").read_text(encoding="utf-8")) for d in (da, db))
        bad += [f"meta {k}" for k in ("declaration_version", "rules_version", "rows") if ma.get(k) != mb.get(k)]
        rows.append((f"features/{key}_* ({len(files)} parquet, meta)", "; ".join(bad)))
    return rows


def scores(a: Path, b: Path) -> list[tuple[str, str]]:
    """Served scores and SHAP contributions (workspace/explanations/<snapshot>__v<version>/)."""
    rows = []
    ea, eb = a / "ws" / "explanations", b / "ws" / "explanations"

    def key(p: Path) -> str:  # <as_of>_w<months>_<hash>__v<version> → <as_of>_w<months>__v<version>
        snap, _, version = p.name.partition("__")
        return f"{snap.rsplit('_', 1)[0]}__{version}"

    by_b = {key(p): p for p in eb.glob("*") if p.is_dir()} if eb.is_dir() else {}
    for folder in sorted(p for p in ea.glob("*") if p.is_dir()) if ea.is_dir() else []:
        other = by_b.get(key(folder))
        if other is None:
            rows.append((f"explanations/{key(folder)}", "missing in B"))
            continue
        files = sorted(p.name for p in folder.glob("*.parquet"))
        bad = [f"{f}: {why}" for f in files if (why := _frame_equal(folder / f, other / f))]
        rows.append((f"explanations/{key(folder)} ({len(files)} parquet)", "; ".join(bad)))
    return rows


def bundle(a: Path, b: Path) -> list[tuple[str, str]]:
    def champion(run: Path) -> Path:
        marker = json.loads((run / "models" / "champion.json").read_text(encoding="utf-8"))
        return run / "models" / marker["path"]

    ba, bb = champion(a), champion(b)
    rows = []
    for name in BUNDLE_FILES:
        pa, pb = ba / name, bb / name
        if not pa.exists() and not pb.exists():
            continue
        same = pa.exists() and pb.exists() and pa.read_bytes() == pb.read_bytes()
        rows.append((f"bundle {name}", "" if same else "bytes differ"))
    fa = json.loads((ba / "features.json").read_text(encoding="utf-8"))
    fb = json.loads((bb / "features.json").read_text(encoding="utf-8"))
    rows.append(("bundle features.json", "" if fa == fb else "differs"))
    return rows


def _cells(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in book.worksheets}


def round_plan(a: Path, b: Path) -> list[tuple[str, str]]:
    rows = []
    plans_a = sorted((a / "ws" / "reports").glob("round_*.xlsx"))
    for pa in plans_a:
        pb = b / "ws" / "reports" / pa.name
        if not pb.exists():
            rows.append((f"reports/{pa.name}", "missing in B"))
            continue
        ca, cb = _cells(pa), _cells(pb)
        mask = lambda rows: [tuple(_masked(v) for v in r) for r in rows or []]  # noqa: E731
        bad = [s for s in ca if mask(ca[s]) != mask(cb.get(s))]
        rows.append((f"reports/{pa.name} ({len(ca)} sheets)", f"sheets differ: {bad}" if bad else ""))
    return rows or [("reports/round_*.xlsx", "none in A")]


def _numbers(value: Any, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out |= _numbers(v, f"{prefix}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out |= _numbers(v, f"{prefix}[{i}]")
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int | float):
        out[prefix] = float(value)
    return out


def evaluation(a: Path, b: Path) -> list[tuple[str, str]]:
    rows = []
    for name in ("evaluation.json", "training.json"):
        pa, pb = a / "ws" / "reports" / name, b / "ws" / "reports" / name
        if not pa.exists():
            continue
        na = _numbers(json.loads(pa.read_text(encoding="utf-8")))
        nb = _numbers(json.loads(pb.read_text(encoding="utf-8"))) if pb.exists() else {}
        same = lambda x, y: x == y or (x != x and y != y)  # noqa: E731  (NaN equals NaN here)
        bad = [k for k in na if k not in nb or not same(na[k], nb[k])] + [k for k in nb if k not in na]
        timing = [k for k in bad if "second" in k.lower() or k.lower().endswith("_s")]
        real = [k for k in bad if k not in timing]
        why = f"{len(real)} of {len(na)} numbers differ, e.g. {real[:4]}" if real else ""
        note = f" (timings differ: {len(timing)}, not compared)" if timing else ""
        rows.append((f"reports/{name} numbers{note}", why))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    args = parser.parse_args()
    rows = [
        *snapshots(args.run_a, args.run_b),
        *bundle(args.run_a, args.run_b),
        *scores(args.run_a, args.run_b),
        *round_plan(args.run_a, args.run_b),
        *evaluation(args.run_a, args.run_b),
    ]
    width = max(len(item) for item, _ in rows)
    print(f"{'item':<{width}}  result")
    for item, why in rows:
        print(f"{item:<{width}}  {'matched' if not why else 'DIFFERS: ' + why}")
    return 1 if any(why for _, why in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
