"""What an ingest run reports: per-table counts, file problems, reconciliation, the manifest.

The same object is printed by the CLI and written as `<ws>/manifest.json`, so what the user saw
and what the next stage reads cannot disagree. `read = accepted + quarantined` holds per table by
construction: every row read is either written or quarantined (one quarantine row per source row).
A file that could not be read at all has no rows to count: it is listed in `files_not_read` with its
size and reason, and its table fails unless the operator allowed unreadable files for this run.
"""

from __future__ import annotations

import codecs
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from features.ingest.adapters.config import Adapter
from features.ingest.sources import TableSource
from feijian.errors import InputError


@dataclass
class TableReport:
    table: str
    files: int = 0
    files_rejected: int = 0
    file_issues: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    unreadable: bool = False  # files exist but none could be read
    files_not_read: list[dict[str, object]] = field(default_factory=list)  # {file, bytes, reason}
    status: str = "ok"  # ok | files not read (allowed) | failed
    read: int = 0
    accepted: int = 0
    quarantined: int = 0
    rejected_rows: int = 0  # rejected by the SQL checks (the rest of `quarantined` are malformed CSV lines)
    duplicates: int = 0
    inserted: int = 0
    updated: int = 0

    @classmethod
    def from_source(cls, ts: TableSource) -> TableReport:
        readable = [f for f in ts.files if not f.fatal]
        rep = cls(table=ts.table.name, files=len(ts.files), files_rejected=len(ts.files) - len(readable),
                  file_issues=[(str(f.path), f.issue) for f in ts.files if f.issue],
                  read=sum(f.rows for f in readable), quarantined=len(ts.pre_rejects))
        rep.unreadable = not readable and any(f.not_read for f in ts.files)
        rep.files_not_read = [{"file": str(f.path), "bytes": f.size, "reason": f.issue} for f in ts.files if f.not_read]
        rep.accepted = rep.read - rep.quarantined
        return rep


@dataclass
class IngestReport:
    run_id: str
    src: str
    workspace: str
    now: str
    adapter: str
    encoding: str
    pseudonym_key_id: str
    schema_version: str
    status: str = "running"
    version: str | None = None
    tables: dict[str, TableReport] = field(default_factory=dict)
    reconciliation: dict[str, object] = field(default_factory=dict)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    quarantine_dir: str | None = None
    quarantine_files: list[str] = field(default_factory=list)
    files_not_read: list[dict[str, object]] = field(default_factory=list)  # every table's, with `table`
    fingerprint: dict[str, object] = field(default_factory=dict)
    elapsed_s: float | None = None

    def judge(self, share: float, allow_unreadable_files: bool = False) -> list[str]:
        """Set each table's status; returns why tables failed (none: the run may write).

        A table fails when it lost more than `share` of its rows, or when a file of it could not be read
        (its rows are unknown, so no share can be computed) and unreadable files were not allowed.
        """
        out = []
        self.files_not_read = [{"table": t.table, **f} for t in self.tables.values() for f in t.files_not_read]
        for t in self.tables.values():
            problems = []
            if t.files_not_read and not allow_unreadable_files:
                listed = "; ".join(f"{f['file']} ({int(f['bytes']):,} bytes): {f['reason']}"  # type: ignore[call-overload]
                                   for f in t.files_not_read)
                which = (f"none of its {t.files} file(s) could be read" if t.unreadable else
                         f"{len(t.files_not_read)} of {t.files} files could not be read")
                problems.append(f"{t.table}: {which}, so its rows are not all counted [{listed}]; re-export "
                                "them, or pass --allow-unreadable-files to load the rest (the manifest lists the "
                                "files not read)")
            if t.read and t.quarantined / t.read > share:
                problems.append(f"{t.table}: {t.quarantined:,} of {t.read:,} rows quarantined "
                                f"({t.quarantined / t.read:.1%})")
            t.status = "failed" if problems else "files not read" if t.files_not_read else "ok"
            out += problems
        return out

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def resolve_encoding(flag: str | None, adapter: Adapter) -> str:
    """The CSV encoding: an explicit non-default flag wins, else the adapter's, else UTF-8."""
    enc = flag or "utf-8"
    if adapter.encoding and enc.lower().replace("-", "") in ("utf8", ""):
        enc = adapter.encoding
    try:
        codecs.lookup(enc)
    except LookupError:
        raise InputError(f"unknown encoding {enc!r}; use utf-8 or gbk") from None
    return enc


def fingerprint(src: Path, files: list[Path]) -> dict[str, object]:
    """sha256 per input file and one over all of them (path-ordered), to tell exports apart."""
    per_file: dict[str, str] = {}
    total = hashlib.sha256()
    for p in sorted(files):
        h = hashlib.sha256()
        with p.open("rb") as fh:
            while chunk := fh.read(8 << 20):
                h.update(chunk)
        rel = str(p.relative_to(src))
        per_file[rel] = h.hexdigest()
        total.update(f"{rel}\0{per_file[rel]}\n".encode())
    return {"sha256": total.hexdigest(), "files": per_file}


def read_previous_manifest(ws: Path) -> dict[str, object] | None:
    path = ws / "manifest.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
