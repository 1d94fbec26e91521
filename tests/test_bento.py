"""The service shipped the BentoML way: `feijian bento build` makes a Bento with the champion bundle and
the served snapshot, and `bentoml serve` of that Bento answers like `feijian serve`."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx
import pytest
from typer.testing import CliRunner

from feijian.cli import app

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(bentoml: str, tag: str, port: int, env: dict[str, str], out: IO[bytes], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([bentoml, "serve", tag, "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=cwd,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop `bentoml serve` and its workers: BentoML's process manager gives each worker its own session,
    so the process group alone does not reach them."""
    import psutil

    try:
        family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    for p in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.send_signal(sig)
    _, alive = psutil.wait_procs(family, timeout=30)
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    proc.wait()


def test_bento_builds_and_serves_like_feijian_serve(trained: object, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    ws, models = trained.province.workspace, trained.models  # type: ignore[attr-defined]
    project = tmp_path / "project"  # a copy of the checkout's code, so the test's stage does not touch it
    project.mkdir()
    for name in ("bentofile.yaml", "requirements.lock", "feijian", "features", "training", "serving"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, project / name)
    home, state = tmp_path / "bentoml", tmp_path / "state"
    monkeypatch.setenv("BENTOML_HOME", str(home))
    monkeypatch.setenv("BENTOML_DO_NOT_TRACK", "true")
    result = CliRunner().invoke(app, ["bento", "build", "--project", str(project), "-w", str(ws),
                                      "--models", str(models)])  # fmt: skip
    assert result.exit_code == 0, result.output
    tag = f"feijian:v{json.loads((project / 'bento' / 'models' / 'champion.json').read_text())['path'].split('v')[-1]}"
    listed = subprocess.run([str(Path(sys.executable).parent / "bentoml"), "list", "-o", "json"],
                            capture_output=True, text=True, env=os.environ, check=True)  # fmt: skip
    assert tag in {b["tag"] for b in json.loads(listed.stdout)}

    env = {k: v for k, v in os.environ.items() if not k.startswith("FEIJIAN_")}
    env.update(BENTOML_HOME=str(home), BENTOML_DO_NOT_TRACK="true")
    bentoml = str(Path(sys.executable).parent / "bentoml")
    port = _free_port()
    # Without a state folder the Bento refuses to serve (nothing is written into it) and says why.
    refused_log = tmp_path / "refused.log"
    with refused_log.open("wb") as out:
        refused = _serve(bentoml, tag, port, env, out, tmp_path)
        try:
            deadline = time.monotonic() + 120
            while "FEIJIAN_STATE_DIR" not in refused_log.read_text(errors="replace"):
                with contextlib.suppress(httpx.HTTPError):  # a request builds the middleware, which refuses
                    assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code != 200
                assert time.monotonic() < deadline, refused_log.read_text(errors="replace")[-3000:]
                time.sleep(0.5)
            assert not list(home.glob("bentos/feijian/*/src/feijian.db"))
        finally:
            _stop(refused, signal.SIGKILL)

    env["FEIJIAN_STATE_DIR"] = str(state)
    from serving.auth import issue
    from serving.store import open_database

    monkeypatch.setenv("FEIJIAN_STATE_DIR", str(state))
    db = open_database(state)
    token = issue(db, "bento planner", "planner")[1]
    db.dispose()
    port = _free_port()  # the refused server's port may linger a moment
    log = (tmp_path / "bento.log").open("wb")
    proc = _serve(bentoml, tag, port, env, log, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        from feijian.errors import NotReadyError
        from serving.serve_cli import wait_ready

        try:
            wait_ready(base, proc, timeout=180)
        except NotReadyError:
            pytest.fail((tmp_path / "bento.log").read_text()[-3000:])
        auth = {"Authorization": f"Bearer {token}"}
        plan = httpx.post(base + "/api/plan", json={"capacity": 4, "exploration_share": 0}, headers=auth, timeout=30)
        assert plan.status_code == 200, plan.text
        from serving.explain import Explainer
        from serving.plan import plan_round
        from training.bundle import Bundle, champion_path

        ex = Explainer.build(ws, Bundle.load(champion_path(models)))
        want = plan_round(ex.scored(), ex.inspections(), ex.as_of, 4, exploration_share=0.0)
        assert [t["fixmedins_code"] for t in plan.json()["targets"]] == want.targets["fixmedins_code"].tolist()
        assert httpx.post(base + "/api/plan", json={"capacity": 4}, timeout=30).status_code == 401
        page = httpx.get(base + "/ui/", timeout=30)
        assert page.status_code == 200 and "检查计划" in page.text
        assert (state / "audit" / "audit.log").is_file()  # the audit trail is written outside the Bento
    finally:
        _stop(proc)
        log.close()
