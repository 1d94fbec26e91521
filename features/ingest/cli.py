"""`feijian ingest`: a thin printer around `features.ingest.ingest`."""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from features.ingest.check import CheckReport, check_export
from features.ingest.pipeline import ingest
from features.ingest.report import IngestReport
from feijian.errors import RejectThresholdError


def print_report(report: IngestReport, console: Console) -> None:
    t = RichTable(title=f"ingest {report.run_id} ({report.status})", show_lines=False)
    for col in ("table", "status", "files", "read", "accepted", "quarantined", "inserted", "updated"):
        t.add_column(col, justify="left" if col == "table" else "right")
    for rep in report.tables.values():
        files = f"{rep.files}" + (f" ({rep.files_rejected} rejected)" if rep.files_rejected else "")
        t.add_row(rep.table, rep.status, files, f"{rep.read:,}", f"{rep.accepted:,}", f"{rep.quarantined:,}",
                  f"{rep.inserted:,}", f"{rep.updated:,}")
    console.print(t)
    for rep in report.tables.values():
        for path, issue in rep.file_issues:
            console.print(f"[yellow]file[/] {escape(path)}: {escape(issue)}", highlight=False, soft_wrap=True)
    for f in report.files_not_read:
        console.print(f"[red]not read[/] {f['table']}: {escape(str(f['file']))} ({f['bytes']:,} bytes); its rows "
                      "are not in the counts above", highlight=False, soft_wrap=True)
    for path, reason in report.unknown:
        console.print(f"[yellow]file[/] {escape(path)}: {escape(reason)}", highlight=False, soft_wrap=True)
    r = report.reconciliation
    if r:
        console.print(
            f"reconciliation (Σ det_item_fee_sumamt vs medfee_sumamt, ±0.01): {r['settlements_checked']:,} "
            f"settlements checked, {r['settlements_mismatched']:,} disagree, {r['settlements_without_fee_lines']:,} "
            f"without fee lines in this export", highlight=False)
        for e in (r.get("examples") or [])[:5]:
            assert isinstance(e, dict)
            console.print(f"  setl_id {e['setl_id']}: fee lines {e['fee_sum']} ≠ medfee_sumamt {e['medfee_sumamt']} "
                          "(quarantined with its fee lines)", highlight=False)
    for note in report.notes:
        console.print(f"[dim]{note}[/]", highlight=False)
    if report.quarantine_files:
        console.print(f"quarantine: {report.quarantine_dir}/ (Parquet + CSV)", highlight=False)
    if report.version:
        console.print(f"workspace: {report.workspace}/raw -> data/{report.version}; manifest.json written "
                      f"in {report.elapsed_s} s", highlight=False)


def run_ingest(src: Path, workspace: Path, adapter: Path | None, encoding: str, max_reject_share: float,
               now: str | None, console: Console, allow_unreadable_files: bool = False) -> None:
    """Run ingest and print the per-table summary; errors propagate to the CLI as FeijianError."""
    with console.status("ingesting…"):
        try:
            report = ingest(src, workspace, adapter=adapter, encoding=encoding,
                            max_reject_share=max_reject_share, now=now,
                            allow_unreadable_files=allow_unreadable_files)
        except RejectThresholdError as exc:
            report = getattr(exc, "report", None)
            if report is not None:
                print_report(report, console)
            if getattr(exc, "check", None) is not None:
                print_check(exc.check, console)  # type: ignore[attr-defined]
            raise
    print_report(report, console)


def print_check(report: CheckReport, console: Console) -> None:
    """What the dry run found: per table its rows and rejects, how each contract column is filled (the
    ones not read under their own name), unknown codes as adapter lines, and the verdict."""
    t = RichTable(title=f"ingest --check {report.src} (adapter {report.adapter})", show_lines=False)
    for col in ("table", "files", "rows checked", "rejected", "top reason"):
        t.add_column(col, justify="left" if col in ("table", "top reason") else "right", overflow="fold")
    for tc in report.tables.values():
        rows = f"{tc.rows:,}" + (" (sample)" if tc.sampled else "")
        top = re.sub(r" among the accepted rows.*| is not a known code;.*", "", tc.reasons[0][2]) if tc.reasons else ""
        t.add_row(tc.table, f"{tc.files_read}/{tc.files}", rows, f"{tc.rejected:,} ({tc.share:.0%})",
                  escape(top[:120]))
    console.print(t)
    for tc in report.tables.values():
        other = {c: how for c, how in tc.columns.items() if how != "present"}
        if other:
            console.print(f"[bold]{tc.table}[/] columns: " + "; ".join(
                f"{'[red]' if how == 'MISSING' else ''}{c} {escape(how)}{'[/]' if how == 'MISSING' else ''}"
                for c, how in other.items()), highlight=False, soft_wrap=True)
        for path, issue in tc.file_issues:
            console.print(f"[yellow]file[/] {escape(path)}: {escape(issue)}", highlight=False, soft_wrap=True)
    for path, reason in report.unknown_files:
        console.print(f"[yellow]file[/] {escape(path)}: {escape(reason)}", highlight=False, soft_wrap=True)
    if report.unknown_codes:
        console.print("unknown codes (rows in the checked rows); add these lines to the adapter, with the "
                      "contract code where none is suggested:", highlight=False)
        current = None
        for u in report.unknown_codes:
            if (u.table, u.column) != current:
                current = (u.table, u.column)
                console.print(f"  [tables.{u.table}.values.{u.column}]", highlight=False, markup=False)
            note = "" if u.suggestion else "   # no contract code matches: choose one"
            console.print(f"  {u.line}   # {u.rows:,} rows{note}", highlight=False, markup=False)
    if report.workspace:
        console.print(f"references checked against this export and the workspace {escape(report.workspace)}",
                      highlight=False)
    if report.ok:
        console.print(f"[green]ok[/]: the ingest would pass (checked in {report.elapsed_s} s)", highlight=False)
    else:
        console.print(f"[red]would fail[/] (checked in {report.elapsed_s} s):", highlight=False)
        for f in report.failures:
            console.print(f"  {escape(f)}", highlight=False, soft_wrap=True)


def run_check(src: Path, workspace: Path | None, adapter: Path | None, encoding: str, max_reject_share: float,
              now: str | None, console: Console) -> None:
    """`ingest --check`: print the dry run; exit 3 (RejectThresholdError) when the real ingest would fail."""
    from features.ingest.pipeline import _parse_now

    with console.status("checking…"):
        report = check_export(src, adapter, encoding, workspace, max_reject_share, _parse_now(now))
    print_check(report, console)
    if not report.ok:
        raise RejectThresholdError(f"the ingest of {src} would fail: {len(report.failures)} problem(s) above")
