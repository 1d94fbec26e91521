"""`feijian bento`: ship the service the BentoML way, as a Bento holding the code, the champion bundle and
the snapshot it serves.

`stage` copies what the service reads into `bento/` beside bentofile.yaml (git-ignored): the champion
bundle, the newest snapshot with its scored explanations (so the Bento serves without computing), and
the two raw tables the service reads (facilities, inspection history). `bentoml build` then packs it
with the code; `bentoml serve feijian:latest` answers like `feijian serve`. Nothing writable or secret
travels: the audit log, its key and the database live where $FEIJIAN_STATE_DIR and $FEIJIAN_DB_URL
say at serve time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from feijian.errors import NotReadyError
from feijian.settings import Workspace
from training.bundle import CHAMPION_FILE, Bundle, champion_path

STAGE_DIR = "bento"
SERVED_TABLES = ("fixmedins", "inspections")  # the raw tables serving reads (serving.sources, serving.state)


def stage(workspace: Path, models: Path, out: Path) -> dict[str, str]:
    """Copy the served data into `out` (replacing an earlier stage); returns what was staged."""
    from explain.contrib import cache_dir
    from features.snapshot import latest_snapshot
    from serving.explain import Explainer

    ws = Workspace(Path(workspace))
    bundle_dir = champion_path(models)
    bundle = Bundle.load(bundle_dir)
    snapshot = latest_snapshot(ws.root)
    Explainer.build(ws.root, bundle, snapshot)  # scores and caches the explanations the Bento will read
    if out.exists():
        shutil.rmtree(out)
    dst_ws, dst_models = out / "workspace", out / "models"
    rel_bundle = bundle_dir.resolve().relative_to(Path(models).resolve())
    shutil.copytree(bundle_dir, dst_models / rel_bundle)
    (dst_models / CHAMPION_FILE).write_text(json.dumps({"path": str(rel_bundle)}), encoding="utf-8")
    shutil.copytree(snapshot, dst_ws / "features" / snapshot.name)
    (dst_ws / "features" / "LATEST").write_text(snapshot.name, encoding="utf-8")
    cache = cache_dir(ws.root, snapshot.name, bundle.version)
    shutil.copytree(cache, cache_dir(dst_ws, snapshot.name, bundle.version))
    for table in SERVED_TABLES:
        if not ws.table(table).is_dir():
            raise NotReadyError(f"{ws.table(table)} is missing: ingest the export first (`feijian ingest DIR`)")
        shutil.copytree(ws.table(table), Workspace(dst_ws).table(table))
    return {"model_version": str(bundle.version), "snapshot_id": snapshot.name, "staged": str(out)}


def build(workspace: Path, models: Path, project: Path, console: Console) -> str:
    """Stage, then `bentoml build` in `project` (the folder of bentofile.yaml); returns the Bento's tag."""
    project = Path(project)
    if not (project / "bentofile.yaml").is_file():
        raise NotReadyError(f"no bentofile.yaml in {project}: run from the feijian checkout or pass --project")
    with console.status("staging the champion bundle and the snapshot"):
        info = stage(workspace, models, project / STAGE_DIR)
    console.print(f"  staged model v{info['model_version']} · snapshot {info['snapshot_id']} in {info['staged']}")
    bentoml = Path(sys.executable).parent / "bentoml"
    out = subprocess.run(
        [str(bentoml), "build", str(project), "--output", "tag", "--version", f"v{info['model_version']}"],
        capture_output=True, text=True, cwd=project,
    )  # fmt: skip
    if out.returncode != 0:
        raise NotReadyError(f"bentoml build failed:\n{out.stderr[-2000:]}")
    tag = out.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    console.print(f"  built Bento [bold]{tag}[/]: serve it with `bentoml serve {tag}`")
    return tag
