"""The service as tests run it: the trained province's workspace with a token per role (`served`), an
in-process client (`client`) and one real `bentoml serve` process on 127.0.0.1 (`live`), shared by
every test module of the session (tests/conftest.py registers the fixtures)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import Trained


@dataclass
class Served:
    trained: Trained
    tokens: dict[str, str]  # role → token
    env: dict[str, str]


@pytest.fixture(scope="session")
def served(trained: Trained) -> Iterator[Served]:
    from serving.auth import issue
    from serving.serve_cli import service_env
    from serving.store import open_database

    ws = trained.province.workspace
    db = open_database(ws)
    tokens = {role: issue(db, f"测试{role}", role)[1] for role in ("planner", "supervisor", "analyst", "admin")}
    db.dispose()
    env = service_env(ws, trained.models)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield Served(trained, tokens, env)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def client(served: Served) -> Iterator[object]:
    from starlette.testclient import TestClient

    from serving.service import Feijian

    with TestClient(Feijian.to_asgi()) as c:
        yield c


def _auth(served: Served, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {served.tokens[role]}"}


def _drop_finding(served: Served, insp_id: str) -> int:
    from records import Finding
    from serving.store import open_database

    db = open_database(served.trained.province.workspace)
    try:
        with db.session() as s:
            row = s.get(Finding, insp_id)
            if row is not None:
                s.delete(row)
            s.commit()
            return int(row is not None)
    finally:
        db.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def live(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real `bentoml serve` process on 127.0.0.1 for the session; SIGTERM at the end.

    Its output goes to a file (a pipe nobody reads fills up and blocks the server once it logs enough)."""
    from serving.serve_cli import serve_command, stop

    port = _free_port()
    log_path = tmp_path_factory.mktemp("live") / "serve.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        serve_command("127.0.0.1", port),
        env=served.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(sys.executable).parent,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        else:
            pytest.fail("bentoml serve did not become ready in 180 s")
        yield base
    finally:
        stop(proc)
        log.close()


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
