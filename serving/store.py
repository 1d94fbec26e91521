"""The service's database opened with every table: serving.db's engine and the models registered on
its Base by serving.auth (tokens) and serving.findings (recorded findings).

A module of its own because those models import serving.db: opening the database here keeps the
imports one way (store → auth, findings → db).
"""

from __future__ import annotations

from pathlib import Path

from feijian.settings import db_url_env, state_dir
from serving import auth, findings  # noqa: F401  (their models register on Base when imported)
from serving.db import Database, create_private, default_url


def open_database(workspace: Path, url: str | None = None) -> Database:
    """The database at `url` (default: serving.db.default_url), its tables created when missing."""
    if url is None and not db_url_env():
        state_dir(workspace).mkdir(parents=True, exist_ok=True)
    url = url or default_url(workspace)
    create_private(url)
    return Database(url).create_all()
