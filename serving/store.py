"""The service's database opened with every table: the records' (records.open_records) and the API
tokens serving.auth registers on the same Base.

A module of its own because serving.auth and serving.findings import records.db: opening the
database here keeps the imports one way (store → auth, findings → records).
"""

from __future__ import annotations

from pathlib import Path

from records import Database, open_records
from serving import auth, findings  # noqa: F401  (their models register on Base when imported)


def open_database(workspace: Path, url: str | None = None) -> Database:
    """The database at `url` (default: records.db.default_url), its tables created when missing."""
    return open_records(workspace, url)
