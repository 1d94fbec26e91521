"""Terminal side of `feijian serve`, `feijian token` and `feijian audit verify`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from feijian.errors import InputError
from feijian.settings import ENV_MODELS, ENV_WORKSPACE, Workspace
from serving.audit import load_or_create_key, verify
from serving.auth import ROLE_LABELS, issue, list_tokens, revoke
from serving.db import ENV_DB_URL, open_database
from serving.middleware import audit_key_path, audit_log_path


def service_env(workspace: Path, models: Path, db_url: str | None = None) -> dict[str, str]:
    """The environment `bentoml serve` needs: where the workspace, bundles and BentoML's home are."""
    env = dict(os.environ)
    env[ENV_WORKSPACE] = str(Path(workspace).resolve())
    env[ENV_MODELS] = str(Path(models).resolve())
    env.setdefault("BENTOML_HOME", str((Path(workspace) / ".bentoml").resolve()))
    env["BENTOML_DO_NOT_TRACK"] = "true"
    if db_url:
        env[ENV_DB_URL] = db_url
    return env


def serve_command(host: str, port: int) -> list[str]:
    bentoml = Path(sys.executable).parent / "bentoml"
    return [str(bentoml), "serve", "serving.service:Feijian", "--host", host, "--port", str(port)]


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM a `bentoml serve` process and wait; kill it if it has not gone in 30 s."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_serve(workspace: Path, models: Path, host: str, port: int, db_url: str | None, console: Console) -> int:
    """Check the bundle and snapshot first (a clear message beats a stack trace), then serve until stopped."""
    from serving.state import load_state

    if host not in ("127.0.0.1", "localhost", "::1") and not os.environ.get("FEIJIAN_ALLOW_PUBLIC"):
        raise InputError(
            f"--host {host}: the round plan is confidential; serve on 127.0.0.1 behind the bureau's own gateway "
            "(set FEIJIAN_ALLOW_PUBLIC=1 to bind elsewhere on purpose)"
        )
    state = load_state(workspace, models, db_url)
    console.print(
        f"  model v{state.bundle.version} · snapshot {state.snapshot_meta['snapshot_id']} · "
        f"{len(state.explainer.scored()):,} facilities"  # type: ignore[attr-defined]
    )
    console.print(
        f"  [bold]page[/]: http://{host}:{port}/ui/   API: http://{host}:{port}/api/…   "
        f"health: http://{host}:{port}/healthz"
    )
    return subprocess.call(serve_command(host, port), env=service_env(workspace, models, db_url))


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
                raise InputError(
                    "feijian token issue needs --name WHO and --role (planner, supervisor, analyst, admin)"
                )
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
