"""A throwaway PostgreSQL server on 127.0.0.1 for tests: Debian's binaries, a temp cluster, stopped after."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    """Run as the unprivileged `postgres` user when we are root (initdb refuses root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Yield a SQLAlchemy URL to a fresh database; the cluster is deleted afterwards."""
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError(
            f"PostgreSQL 15 binaries not found in {PG_BIN}: install Debian's postgresql (`.ci/run` does)"
        )
    root = Path(tempfile.mkdtemp(prefix="feijian-pg-"))
    data = root / "data"
    port = _free_port()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    try:
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "feijian",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            capture_output=True,
        )
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(root / "log"),
                    "-w",
                    "-o",
                    f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root}",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=60,
        )
        url = f"postgresql+psycopg://feijian@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        yield url
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)
