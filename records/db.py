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
from typing import Any

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
        """Bring a database made by an earlier feijian up to the tables' declarations: nullable columns
        added since are added (ALTER TABLE ADD), and a column that became nullable loses its NOT NULL
        (PostgreSQL: ALTER COLUMN; SQLite, which cannot: the table is rebuilt with its rows, in one
        transaction, foreign keys kept). Two processes upgrading at once: the second finds it done."""
        from sqlalchemy.exc import DBAPIError

        try:
            self._upgrade()
        except DBAPIError:
            if self._differences():  # not another process's upgrade racing this one: a real failure
                raise

    def _differences(self) -> list[tuple[Any, str, str]]:
        from sqlalchemy import inspect

        seen = inspect(self.engine)
        out = []
        for table in Base.metadata.sorted_tables:
            if not seen.has_table(table.name):
                continue
            have = {c["name"]: c for c in seen.get_columns(table.name)}
            for col in table.columns:
                if col.name not in have:
                    out.append((table, col.name, "add"))
                elif col.nullable and not have[col.name]["nullable"] and not col.primary_key:
                    out.append((table, col.name, "nullable"))
        return out

    def _upgrade(self) -> None:
        from feijian.errors import ConfigError

        for table, name, change in self._differences():
            col = table.columns[name]
            if change == "add":
                if not col.nullable:
                    raise ConfigError(f"records database: table {table.name} lacks column {name}, which cannot "
                                      "be added to existing rows")
                kind = col.type.compile(dialect=self.engine.dialect)
                with self.engine.begin() as con:
                    con.exec_driver_sql(f'ALTER TABLE "{table.name}" ADD COLUMN "{name}" {kind}')
            elif self.engine.dialect.name == "sqlite":
                self._rebuild_sqlite(table)
            else:
                with self.engine.begin() as con:
                    con.exec_driver_sql(f'ALTER TABLE "{table.name}" ALTER COLUMN "{name}" DROP NOT NULL')

    def _rebuild_sqlite(self, table: Any) -> None:
        """SQLite's own recipe for changing a table: a new one, the rows copied, the old dropped, the new
        renamed, with foreign keys off meanwhile (the child tables then refer to the new one by name)."""
        from sqlalchemy import inspect
        from sqlalchemy.schema import CreateIndex, CreateTable

        have = {c["name"] for c in inspect(self.engine).get_columns(table.name)}
        cols = ", ".join(f'"{c.name}"' for c in table.columns if c.name in have)
        ddl = str(CreateTable(table).compile(dialect=self.engine.dialect))
        new = f"{table.name}__upgraded"
        ddl = ddl.replace(f"CREATE TABLE {table.name} ", f'CREATE TABLE "{new}" ', 1)
        with self.engine.connect() as con:
            con.exec_driver_sql("PRAGMA foreign_keys=OFF")
            try:
                con.exec_driver_sql("BEGIN IMMEDIATE")
                con.exec_driver_sql(ddl)
                con.exec_driver_sql(f'INSERT INTO "{new}" ({cols}) SELECT {cols} FROM "{table.name}"')
                con.exec_driver_sql(f'DROP TABLE "{table.name}"')
                con.exec_driver_sql(f'ALTER TABLE "{new}" RENAME TO "{table.name}"')
                for index in table.indexes:
                    con.exec_driver_sql(str(CreateIndex(index).compile(dialect=self.engine.dialect)))
                bad = con.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if bad:
                    raise RuntimeError(f"upgrading {table.name} would break foreign keys: {bad[:3]}")
                con.exec_driver_sql("COMMIT")
            except BaseException:
                con.exec_driver_sql("ROLLBACK")
                raise
            finally:
                con.exec_driver_sql("PRAGMA foreign_keys=ON")

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
