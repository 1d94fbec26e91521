"""`feijian ingest`: a thin printer around `features.ingest.ingest`."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

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
            raise
    print_report(report, console)
