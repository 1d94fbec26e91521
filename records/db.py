"""The records database: SQLite in the workspace by default, PostgreSQL (or any SQLAlchemy URL) by URL.

Holds saved rounds, recorded findings (records.rounds, records.findings) and the service's API tokens
(serving.auth). The URL comes from `--db`, else $FEIJIAN_DB_URL, else
sqlite:///<workspace>/feijian.db ($FEIJIAN_STATE_DIR instead of the workspace where it is set). The SQLite
file is created readable by its owner only (0600; SQLite gives its -wal and -shm files the same mode): it
holds the findings and the token digests.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from feijian.settings import database_file, db_url_env


class Base(DeclarativeBase):
    pass


def default_url(workspace: Path) -> str:
    return db_url_env() or f"sqlite:///{database_file(workspace).resolve()}"


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        kwargs: dict = {"pool_pre_ping": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_all(self) -> Database:
        """Create the tables of every model registered on Base (records.open_records registers the records'
        tables; serving.store adds the service's tokens)."""
        Base.metadata.create_all(self.engine)
        self._add_new_columns()
        return self

    def _add_new_columns(self) -> None:
        """A database made by an earlier feijian gets the nullable columns added since (ALTER TABLE ADD);
        a difference that cannot be added so is a ConfigError naming the table and column."""
        from sqlalchemy import inspect, text

        from feijian.errors import ConfigError

        seen = inspect(self.engine)
        for table in Base.metadata.sorted_tables:
            have = {c["name"]: c for c in seen.get_columns(table.name)}
            for col in table.columns:
                if col.name in have:
                    if col.nullable and not have[col.name]["nullable"] and not col.primary_key:
                        raise ConfigError(
                            f"records database {self.engine.url.render_as_string(hide_password=True)}: "
                            f"{table.name}.{col.name} is NOT NULL there but may be empty in this version of "
                            "feijian (e.g. a case outside any round has no round); it was made by an earlier "
                            "version: move it aside and let feijian create a new one")
                    continue
                if not col.nullable:
                    raise ConfigError(f"records database: table {table.name} lacks column {col.name}, which "
                                      "cannot be added to existing rows; move the database aside")
                kind = col.type.compile(dialect=self.engine.dialect)
                with self.engine.begin() as con:
                    con.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{col.name}" {kind}'))

    def session(self) -> Session:
        return self._sessions()

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cur = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def create_private(url: str) -> None:
    """Create a SQLite database file with mode 0600 before SQLite does (it would use 0644 under the usual umask)."""
    path = url.removeprefix("sqlite:///")
    if not url.startswith("sqlite:///") or path in ("", ":memory:") or os.path.exists(path):
        return
    with contextlib.suppress(FileExistsError):  # another worker created it meanwhile
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
