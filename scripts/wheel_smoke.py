"""Smoke test of an installed feijian wheel, run by scripts/wheel-check.sh from outside the source tree.

    python -I wheel_smoke.py VENV

Every module must come from VENV's site-packages (not a checkout); then the pipeline runs on a tiny
simulated province through the installed `feijian` command: simulate, key new, ingest, features,
train (no tuning), plan, report, and the service answering /healthz and the page's HTML and script.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PACKAGES = ["feijian", "simulator", "simulator.behaviours", "features", "features.ingest", "features.ingest.adapters",
            "features.rules", "features.snapshot", "records", "training", "explain", "serving", "serving.reports",
            "serving.web"]  # fmt: skip
DATA = [
    ("features.rules", "rules.yaml"),
    ("serving.web", "static/index.html"),
    ("serving.web", "static/app.js"),
    ("serving.reports", "templates"),
]


def step(title: str, *args: str, env: dict[str, str], timeout: float = 900) -> str:
    t = time.perf_counter()
    out = subprocess.run([*args], env=env, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        sys.exit(f"FAIL {title}: exit {out.returncode}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    print(f"ok   {title} ({time.perf_counter() - t:.1f} s)", flush=True)
    return out.stdout


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except OSError:
        return 0, ""


def main(venv: Path) -> None:
    from importlib import resources

    site = (venv / "lib").resolve()
    for name in PACKAGES:
        mod = importlib.import_module(name)
        where = Path(mod.__file__ or "").resolve()
        if site not in where.parents:
            sys.exit(f"FAIL {name} imported from {where}, not from the installed wheel under {site}")
    for pkg, rel in DATA:
        if not resources.files(pkg).joinpath(rel).is_file() and not resources.files(pkg).joinpath(rel).is_dir():
            sys.exit(f"FAIL the wheel lacks {pkg}/{rel}")
    from simulator.behaviours.mechanisms import registry

    if len(registry()) < 10:  # imports every violation mechanism's module
        sys.exit("FAIL simulator.behaviours lacks its violation mechanisms")
    print(f"ok   {len(PACKAGES)} packages and {len(DATA)} data paths from {site}", flush=True)

    fj = str(venv / "bin" / "feijian")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEIJIAN_")}
    env["BENTOML_DO_NOT_TRACK"] = "true"
    here = Path.cwd()
    ws = ["--workspace", str(here / "workspace")]
    step("simulate", fj, "simulate", "--out", "province", "--scale", "40", "--seed", "3", env=env)
    step("key new", fj, "key", "new", *ws, env=env)
    step("ingest", fj, "ingest", "province/input", *ws, env=env)
    as_of = json.loads(Path("province/meta.json").read_text(encoding="utf-8"))["next_round_date"]
    step("features", fj, "features", "--as-of", as_of, *ws, env=env)
    step("train --trials 0", fj, "train", "--trials", "0", *ws, "--mlruns", "mlruns", "--models", "models", env=env)
    plan = json.loads(step("plan --format json", fj, "plan", "--capacity", "5", "--format", "json", *ws,
                           "--models", "models", env=env))  # fmt: skip
    if not plan["targets"]:
        sys.exit("FAIL the plan has no targets")
    step("report --round", fj, "report", "--round", "--capacity", "5", *ws, "--models", "models", env=env)
    if not list((here / "workspace" / "reports").glob("*.pdf")):
        sys.exit("FAIL report --round wrote no PDF")

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (here / "serve.log").open("wb")
    proc = subprocess.Popen([fj, "serve", "--port", str(port), *ws, "--models", "models"], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while get(base + "/healthz")[0] != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit("FAIL the service did not answer /healthz:\n" + (here / "serve.log").read_text()[-3000:])
            time.sleep(0.5)
        status, html = get(base + "/ui/")
        js_status, js = get(base + "/ui/static/app.js")
        if status != 200 or "检查计划" not in html or js_status != 200 or "fetch" not in js:
            sys.exit(f"FAIL the page: /ui/ {status}, /ui/static/app.js {js_status}")
        print("ok   serve: /healthz 200, /ui/ and its script served", flush=True)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    print("wheel smoke test passed")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
