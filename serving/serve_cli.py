"""Terminal side of `feijian serve`, `feijian token` and `feijian audit verify`.

`feijian serve` runs `bentoml serve` as a child and owns its lifetime: the child gets a session
(and process group) of its own, so a terminal's Ctrl-C reaches it only through this process, and
SIGTERM, SIGINT or SIGHUP sent to `feijian serve` is forwarded to it. BentoML then stops taking
connections and lets its workers finish the requests in flight; whatever has not exited after
`STOP_GRACE` seconds (the group and every worker seen under it: BentoML's process manager puts
each worker in a session of its own, out of reach of the group) is killed. A second signal skips
the wait. A SIGKILL cannot be caught: on Linux the child asks the kernel to send it SIGTERM when
this process dies (PR_SET_PDEATHSIG), so BentoML stops its workers then as well.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import psutil
from rich.console import Console
from rich.table import Table

from feijian.errors import InputError
from feijian.settings import (
    ENV_ALLOW_PUBLIC,
    ENV_DB_URL,
    ENV_MODELS,
    ENV_WORKSPACE,
    Workspace,
    allow_public,
    audit_key_path,
    audit_log_path,
)
from serving.audit import load_or_create_key, verify
from serving.auth import issue, list_tokens, revoke
from serving.permissions import ROLE_LABELS, ROLES
from serving.store import open_database


def service_env(workspace: Path, models: Path, db_url: str | None = None) -> dict[str, str]:
    """The environment `bentoml serve` needs: where the workspace, bundles and BentoML's home are."""
    env = dict(os.environ)
    env[ENV_WORKSPACE] = str(Path(workspace).resolve())
    env[ENV_MODELS] = str(Path(models).resolve())
    env.setdefault("BENTOML_HOME", str(Workspace(Path(workspace)).bentoml_home.resolve()))
    env["BENTOML_DO_NOT_TRACK"] = "true"
    if db_url:
        env[ENV_DB_URL] = db_url
    return env


def serve_command(host: str, port: int) -> list[str]:
    bentoml = Path(sys.executable).parent / "bentoml"
    return [str(bentoml), "serve", "serving.service:Feijian", "--host", host, "--port", str(port)]


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 300.0) -> float:
    """Poll `base`/readyz until it answers 200; the seconds it took. NotReadyError if `proc` exits first or
    `timeout` passes (benchmarks and tests that start a service on 127.0.0.1 share this)."""
    import time

    import httpx

    from feijian.errors import NotReadyError

    t0 = time.perf_counter()
    while True:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.perf_counter() - t0 > timeout:
            raise NotReadyError(f"the service at {base} did not become ready (exit code {proc.poll()})")
        time.sleep(0.5)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM a `bentoml serve` process and wait; kill it if it has not gone in 30 s."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


STOP_GRACE = 30.0  # seconds for in-flight requests to finish once asked to stop
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _kill_all(pgid: int, procs: list[psutil.Process]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()  # psutil checks it is still the same process (no PID reuse)


def _stop_when_parent_dies() -> None:
    """In the child, before exec: SIGTERM it when the parent dies, even by SIGKILL (Linux's prctl)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def supervise(cmd: list[str], env: dict[str, str], grace: float = STOP_GRACE) -> int:
    """Run `cmd` in its own session until it exits or this process is asked to stop; then stop it all.

    Returns the child's exit status, or 0 when it was stopped on request."""
    received: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in STOP_SIGNALS}
    try:
        proc = subprocess.Popen(cmd, env=env, start_new_session=True, preexec_fn=_stop_when_parent_dies)
        tree: dict[int, psutil.Process] = {}
        while proc.poll() is None and not received:
            # the workers, looked up while their parent still has them (refreshed: BentoML restarts dead ones)
            tree.update({p.pid: p for p in _descendants(proc.pid)})
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1.0)
        tree.update({p.pid: p for p in _descendants(proc.pid)})
        if proc.poll() is not None and not received:
            _kill_all(proc.pid, list(tree.values()))  # BentoML exited on its own: leave nothing of it behind
            return proc.returncode
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)  # BentoML stops its workers, which drain first
        deadline = time.monotonic() + grace
        n_signals = len(received)
        while time.monotonic() < deadline and len(received) == n_signals:
            if proc.poll() is not None and not any(_alive(p) for p in tree.values()):
                break
            time.sleep(0.1)
        _kill_all(proc.pid, list(tree.values()))
        proc.wait()
        return 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def run_serve(workspace: Path, models: Path, host: str, port: int, db_url: str | None, console: Console) -> int:
    """Check the bundle and snapshot first (a clear message beats a stack trace), then serve until stopped."""
    from serving.state import load_state

    if host not in ("127.0.0.1", "localhost", "::1") and not allow_public():
        raise InputError(
            f"--host {host}: the round plan is confidential; serve on 127.0.0.1 behind the bureau's own gateway "
            f"(set {ENV_ALLOW_PUBLIC}=1 to bind elsewhere on purpose)"
        )
    state = load_state(workspace, models, db_url)
    # The audit key before the workers start: they all read it, none has to create it.
    load_or_create_key(audit_key_path(Path(workspace)))
    console.print(
        f"  model v{state.bundle.version} · snapshot {state.snapshot_meta['snapshot_id']} · "
        f"{len(state.explainer.scored()):,} facilities"
    )
    console.print(
        f"  [bold]page[/]: http://{host}:{port}/ui/   API: http://{host}:{port}/api/…   "
        f"health: http://{host}:{port}/healthz"
    )
    return supervise(serve_command(host, port), service_env(workspace, models, db_url))


def run_token(
    action: str,
    workspace: Path,
    name: str | None,
    role: str | None,
    token_id: str | None,
    db_url: str | None,
    console: Console,
) -> None:
    db = open_database(workspace, db_url)
    try:
        if action == "issue":
            if not name or not role:
                raise InputError(f"feijian token issue needs --name WHO and --role ({', '.join(ROLES)})")
            tid, token = issue(db, name, role)
            console.print(f"  token {tid} for {name} ({role} {ROLE_LABELS.get(role, '')}), shown once:")
            console.print(f"  [bold]{token}[/]", soft_wrap=True)
        elif action == "revoke":
            if not token_id:
                raise InputError("feijian token revoke needs --id TOKEN_ID (see `feijian token list`)")
            revoke(db, token_id)
            console.print(f"  token {token_id} revoked")
        elif action == "list":
            table = Table(title="tokens (only their hashes are stored)")
            for col in ("id", "name", "role", "created", "revoked"):
                table.add_column(col)
            for t in list_tokens(db):
                table.add_row(
                    str(t["token_id"]),
                    str(t["name"]),
                    str(t["role"]),
                    str(t["created_at"])[:19],
                    "yes" if t["revoked"] else "",
                )
            console.print(table)
        else:
            raise InputError(f"action must be issue, revoke or list; got {action!r}")
    finally:
        db.dispose()


def run_audit_verify(workspace: Path, console: Console) -> bool:
    ws = Workspace(Path(workspace))
    key_path = audit_key_path(ws.root)
    if not key_path.exists():
        raise InputError(f"no audit key at {key_path}: the service has not run in this workspace")
    log_path = audit_log_path(ws.root)
    verdict = verify(log_path, load_or_create_key(key_path))
    if verdict.ok:
        console.print(
            f"  audit log intact: {verdict.entries:,} entries, chain verified, signed head matches ({log_path})"
        )
    elif verdict.first_bad is not None:
        console.print(
            f"  [bold red]audit log broken[/] at entry {verdict.first_bad:,}: {verdict.reason} "
            f"({verdict.entries:,} entries before it verified)"
        )
    else:
        console.print(f"  [bold red]audit log cut or its head tampered[/]: {verdict.reason} ({log_path})")
    for warning in verdict.warnings:
        console.print(f"  [yellow]note[/]: {warning}")
    return verdict.ok
