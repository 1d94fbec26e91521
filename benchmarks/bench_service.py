"""Load on the running service over loopback: p50, p99, throughput and errors for plan and explain.

Starts `bentoml serve` on a prepared workspace (a snapshot and a champion bundle), issues a token,
then drives each endpoint with N concurrent clients for a fixed time, and in the same run times
the same work in-process (no HTTP) so the service overhead is a ratio, not a guess. With --soak S
it keeps plan+explain load for S seconds and samples the server's RSS to show memory growth.
--fixes on,off measures the service with serving.bentoml_fixes and then without it
($FEIJIAN_BENTOML_FIXES=0), one fresh service each, in the same run.

    python benchmarks/bench_service.py --workspace W --models M [--clients 32] [--seconds 30] [--soak 600]
                                       [--fixes on|off|on,off|…]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import start_service, workspace_parser, wrk_result

WARM_ROUNDS = 10  # fresh connections land on either worker; 10 leave a body cold in one with p ≈ 0.2 %


async def drive(base: str, token: str, path: str, bodies: list[dict], clients: int, seconds: float) -> dict:
    lat: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                 timeout=30) as client:

        async def worker(seed: int) -> None:
            nonlocal errors
            rng = random.Random(seed)
            while time.perf_counter() < stop:
                body = rng.choice(bodies)
                t = time.perf_counter()
                try:
                    r = await client.post(path, json=body)
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                lat.append(time.perf_counter() - t)
                errors += 0 if ok else 1

        await asyncio.gather(*(worker(i) for i in range(clients)))
    a = np.array(lat) * 1000
    return {"n": len(a), "p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "rps": len(a) / seconds, "errors": errors}


WRK_SCRIPT = """
local bodies = {%s}
local i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", nil, nil, bodies[i])
end
"""


def drive_wrk(base: str, token: str, path: str, bodies: list[dict], clients: int, seconds: float) -> dict:
    """The same load from wrk (C, a second process): the client costs little, so the figures are the server's."""
    import json as _json
    import tempfile

    lua_bodies = ", ".join("[[" + _json.dumps(b) + "]]" for b in bodies)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(WRK_SCRIPT % lua_bodies)
        script = fh.name
    out = subprocess.run(
        ["wrk", "-t2", f"-c{clients}", f"-d{int(seconds)}s", "--latency", "-s", script,
         "-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/json", base + path],
        capture_output=True, text=True, check=True,
    ).stdout
    return wrk_result(out, seconds)


def in_process(workspace: Path, models: Path, codes: list[str], repeat: int) -> dict[str, float]:
    """The same plan and explain calls without HTTP: what the model work costs by itself."""
    from serving.plan import plan_round
    from serving.state import load_state

    st = load_state(workspace, models)
    insp = st.inspections()
    t = time.perf_counter()
    for i in range(repeat):
        plan_round(st.explainer.scored(), insp, st.as_of, 50, seed=i)
    plan_ms = (time.perf_counter() - t) / repeat * 1000
    t = time.perf_counter()
    for i in range(repeat):
        st.explainer.explain(codes[i % len(codes)])
    explain_ms = (time.perf_counter() - t) / repeat * 1000
    return {"plan_ms": plan_ms, "explain_ms": explain_ms}


def server_rss(proc: subprocess.Popen) -> float:
    """MB resident in the `bentoml serve` process and all its workers."""
    server = psutil.Process(proc.pid)
    procs = [server, *server.children(recursive=True)]
    return sum(p.memory_info().rss for p in procs if p.is_running()) / 2**20


def main() -> None:
    ap = workspace_parser(__doc__)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--soak", type=float, default=0.0, help="seconds of mixed load while sampling server RSS")
    ap.add_argument("--fixes", default="on",
                    help="serving.bentoml_fixes on or off, or a comma list (on,off) for one service each, in order")
    args = ap.parse_args()
    settings = [f.strip() for f in args.fixes.split(",")]
    if not settings or set(settings) - {"on", "off"}:
        raise SystemExit(f"--fixes takes on, off or a comma list of them; got {args.fixes!r}")

    from feijian.settings import ENV_BENTOML_FIXES
    from serving.auth import issue
    from serving.store import open_database

    db = open_database(args.workspace)
    token = issue(db, "bench", "admin")[1]
    db.dispose()
    ref: dict[str, float] | None = None
    for fixes in settings:
        print(f"--- serving.bentoml_fixes {fixes} (${ENV_BENTOML_FIXES}={'1' if fixes == 'on' else '0'})")
        ref = measure(args, token, {ENV_BENTOML_FIXES: "1" if fixes == "on" else "0"}, ref)


def measure(args: argparse.Namespace, token: str, extra_env: dict[str, str], ref: dict[str, float] | None) -> dict:
    """Start one service, warm it, load each endpoint (and soak); the in-process reference once per run."""
    from serving.serve_cli import service_env, stop

    proc, base, ready = start_service({**service_env(args.workspace, args.models), **extra_env})
    try:
        print(f"service ready in {ready:.1f} s (pid {proc.pid})")
        h = {"Authorization": f"Bearer {token}"}
        plan = httpx.post(base + "/api/plan", json={"capacity": 50}, headers=h, timeout=120).json()
        codes = [t["fixmedins_code"] for t in plan["targets"]]
        n_fac = len(httpx.post(base + "/api/plan", json={"capacity": 500, "exploration_share": 0}, headers=h,
                               timeout=120).json()["targets"])
        plan_bodies = [{"capacity": 50, "seed": s, "exploration_share": 0.1} for s in range(20)]
        explain_bodies = [{"code": c} for c in codes]
        # Warm the caches the way a planner's first look would: each request a few times on fresh
        # connections, so that every worker (each has its own cache) has computed it once.
        t_warm = time.perf_counter()
        for _ in range(WARM_ROUNDS):
            for b in explain_bodies:
                httpx.post(base + "/api/explain", json=b, headers=h, timeout=120)
            for b in plan_bodies:
                httpx.post(base + "/api/plan", json=b, headers=h, timeout=120)
        print(f"warm-up: {WARM_ROUNDS} × ({len(explain_bodies)} explanations + {len(plan_bodies)} plans) "
              f"in {time.perf_counter() - t_warm:.1f} s; server RSS {server_rss(proc):.0f} MB")
        if ref is None:
            ref = in_process(args.workspace, args.models, codes, 20)
        print(f"in-process (same run): plan k=50 {ref['plan_ms']:.2f} ms, explain {ref['explain_ms']:.2f} ms; "
              f"{n_fac}+ facilities in the plan pool")
        print("| endpoint | clients | requests | p50 ms | p99 ms | req/s | errors | p50 ÷ in-process | RSS after, MB |")
        print("|---|---|---|---|---|---|---|---|---|")
        use_wrk = shutil.which("wrk") is not None
        print(f"load generator: {'wrk (apt-get install wrk)' if use_wrk else 'httpx asyncio in this process'}")
        for name, path, bodies, base_ms in (("plan k=50", "/api/plan", plan_bodies, ref["plan_ms"]),
                                            ("explain", "/api/explain", explain_bodies, ref["explain_ms"])):
            if use_wrk:
                r = drive_wrk(base, token, path, bodies, args.clients, args.seconds)
            else:
                r = asyncio.run(drive(base, token, path, bodies, args.clients, args.seconds))
            print(f"| {name} | {args.clients} | {r['n']:,} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                  f"{r['rps']:.0f} | {r['errors']} | {r['p50_ms'] / max(base_ms, 1e-6):.1f}× | "
                  f"{server_rss(proc):.0f} |")
        if args.soak > 0:
            rss: list[tuple[float, float]] = []

            async def soak() -> None:
                stop = time.perf_counter() + args.soak
                start = time.perf_counter()
                while time.perf_counter() < stop:
                    await asyncio.gather(
                        drive(base, token, "/api/plan", plan_bodies, args.clients // 2, 10),
                        drive(base, token, "/api/explain", explain_bodies, args.clients // 2, 10),
                    )
                    rss.append((time.perf_counter() - start, server_rss(proc)))

            asyncio.run(soak())
            first = np.mean([m for _, m in rss[: max(1, len(rss) // 5)]])
            last = np.mean([m for _, m in rss[-max(1, len(rss) // 5):]])
            print(f"soak {args.soak:.0f} s: server RSS first fifth {first:.0f} MB → last fifth {last:.0f} MB "
                  f"({(last - first) / first:+.1%}); samples every 10 s: "
                  + " ".join(f"{m:.0f}" for _, m in rss))
    finally:
        stop(proc)
    return ref


if __name__ == "__main__":
    main()
