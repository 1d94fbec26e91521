"""Soak the running service: mixed plan/explain load while findings are recorded, for a fixed time.

Starts `bentoml serve` on a prepared workspace (a snapshot and a champion bundle) as
bench_service.py does, warms every request on both workers, then for --seconds (default 600) keeps
--clients connections (default 32, spread over two load processes so the client is not the
bottleneck) sending plan and explain requests half and half, while the main process records
findings at --rate per second (default 10) on its own connection and samples the RSS of the service's
processes every 5 s. Every loop is bounded by the deadline and a request budget; it stops by itself.

Findings are what inspection teams send during a round: dated after the snapshot's as_of (this
round's visits, which exclude nothing from a plan), and a share (--backdated-share, default 1 %)
dated inside the exclusion window before as_of (a late entry for the last round), which does
exclude its facility and so makes every worker recompute its plans. Each has a fresh insp_id; at
the end the database is asked how many arrived: none may be lost or stored twice.

    python benchmarks/bench_soak.py --workspace W --models M [--seconds 600] [--clients 32] [--rate 10]

Reports errors (any non-200 or transport error), findings sent / acknowledged / stored, plan and
explain p50/p99 overall and per minute, req/s, and the RSS of the service processes in the first and
the last minute. The target: plan p99 < 100 ms with findings arriving at 10 per second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import httpx
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import start_service, workspace_parser, wrk_max_ms, wrk_result
from benchmarks.bench_service import WARM_ROUNDS

LOAD_PROCESSES = 2
MAX_RPS_PER_CONNECTION = 2_000  # the request budget: seconds × this per connection bounds every loop
RSS_EVERY = 5.0  # seconds


def _load(base: str, token: str, plans: list[dict], codes: list[str], clients: int, seconds: float,
          seed: int, out: mp.Queue) -> None:
    """One load process: `clients` connections, each alternating at random between plan and explain."""

    async def run() -> dict:
        stop = time.perf_counter() + seconds
        start = time.perf_counter()
        rows: dict[str, list[tuple[float, float]]] = {"plan": [], "explain": []}
        errors: dict[str, int] = {}
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                     timeout=30) as client:

            async def worker(k: int) -> None:
                rng = random.Random(seed * 1000 + k)
                for _ in range(int(seconds * MAX_RPS_PER_CONNECTION)):
                    if time.perf_counter() >= stop:
                        break
                    kind = "plan" if rng.random() < 0.5 else "explain"
                    path, body = ("/api/plan", rng.choice(plans)) if kind == "plan" else (
                        "/api/explain", {"code": rng.choice(codes)})
                    t = time.perf_counter()
                    try:
                        r = await client.post(path, json=body)
                        bad = None if r.status_code == 200 else f"{kind} {r.status_code}"
                    except httpx.HTTPError as exc:
                        bad = f"{kind} {type(exc).__name__}"
                    now = time.perf_counter()
                    rows[kind].append((t - start, now - t))
                    if bad:
                        errors[bad] = errors.get(bad, 0) + 1

            await asyncio.gather(*(worker(k) for k in range(clients)))
        return {"rows": {k: np.array(v, dtype=float).reshape(-1, 2) for k, v in rows.items()}, "errors": errors}

    out.put(asyncio.run(run()))


WRK_SCRIPT = """
local bodies = {%s}
local i = %d
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", nil, nil, bodies[i])
end
done = function(summary, latency, requests)
  for k = 1, 1000 do io.write(string.format("PCT %%.1f %%d\\n", k / 10, latency:percentile(k / 10))) end
end
"""
SEGMENT = 60.0  # seconds: wrk runs once per minute of the soak, so each minute has its own percentiles


def _wrk(base: str, token: str, path: str, bodies: list[dict], clients: int, seconds: float, seed: int,
         script_dir: Path) -> subprocess.Popen:
    """wrk (C, its own process) on one endpoint for `seconds`: the figures are the server's."""
    script = script_dir / f"{path.strip('/').replace('/', '_')}.lua"
    script.write_text(WRK_SCRIPT % (", ".join("[[" + json.dumps(b) + "]]" for b in bodies), seed), encoding="utf-8")
    return subprocess.Popen(
        ["wrk", "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--timeout", "30s", "--latency", "-s",
         str(script), "-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/json", base + path],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _wrk_minutes(base: str, token: str, path: str, bodies: list[dict], clients: int, seconds: float,
                 script_dir: Path) -> list[tuple[float, str]]:
    """wrk back to back in SEGMENT-long runs until `seconds` have passed: [(run length, wrk output)]."""
    outputs: list[tuple[float, str]] = []
    end = time.perf_counter() + seconds
    while (left := end - time.perf_counter()) >= 1:
        length = min(SEGMENT, left)
        proc = _wrk(base, token, path, bodies, clients, length, len(outputs), script_dir)
        outputs.append((length, proc.communicate(timeout=length + 120)[0]))
    return outputs


def _percentiles(out: str) -> np.ndarray:
    """The 1,000 latency percentiles (0.1 % apart, in ms) that the script's done() prints."""
    return np.array([int(v) / 1000 for v in re.findall(r"^PCT [\d.]+ (\d+)$", out, re.M)], dtype=float)


def _wrk_minutes_result(runs: list[tuple[float, str]]) -> dict:
    """The whole soak from its minute runs: counts and errors summed; overall percentiles from the mixture
    of the runs' percentile grids, each weighted by its requests (exact to 0.1 %); p99 of every minute."""
    parts = [(wrk_result(out, length), wrk_max_ms(out), _percentiles(out)) for length, out in runs]
    n = sum(r["n"] for r, _, _ in parts)
    values = np.concatenate([q for _, _, q in parts])
    weights = np.concatenate([np.full(len(q), r["n"] / max(len(q), 1)) for r, _, q in parts])
    order = np.argsort(values, kind="mergesort")
    cum = np.cumsum(weights[order]) / weights.sum()

    def pct(q: float) -> float:
        return float(values[order][np.searchsorted(cum, q / 100)])

    return {"n": n, "p50_ms": pct(50), "p99_ms": pct(99), "max_ms": max(m for _, m, _ in parts),
            "rps": n / sum(length for length, _ in runs), "errors": sum(r["errors"] for r, _, _ in parts),
            "p99_per_minute": [r["p99_ms"] for r, _, _ in parts]}


def _finding(run: str, i: int, code: str, as_of: date, backdated: bool, rng: random.Random) -> dict:
    day = as_of - timedelta(days=rng.randint(1, 170)) if backdated else as_of + timedelta(days=rng.randint(1, 60))
    return {
        "insp_id": f"SOAK-{run}-{i:06d}",
        "fixmedins_code": code,
        "batch": "SOAK",
        "insp_date": day.isoformat(),
        "period_begn": (as_of - timedelta(days=365)).isoformat(),
        "period_end": (as_of - timedelta(days=1)).isoformat(),
        "selection": "targeted",
        "amount_recovered": float(rng.choice([0, 0, 1200, 8800, 52000])),
        "points": [{"dr_code": f"SOAK-DR-{i % 7}", "points": 1 + i % 3}],
    }


async def _record_findings(base: str, token: str, run: str, codes: list[str], as_of: date, rate: float,
                           seconds: float, backdated_share: float) -> dict:
    """Post findings at `rate` per second on a schedule (a slow answer does not slow the schedule)."""
    rng = random.Random(7)
    sent = created = repeats = backdated = 0
    errors: dict[str, int] = {}
    lat: list[float] = []
    start = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30,
                                 limits=httpx.Limits(max_connections=8)) as client:

        async def post(body: dict) -> None:
            nonlocal created, repeats
            t = time.perf_counter()
            try:
                r = await client.post("/api/findings", json=body)
                if r.status_code == 200:
                    created += bool(r.json()["created"])
                    repeats += not r.json()["created"]
                else:
                    errors[f"findings {r.status_code}"] = errors.get(f"findings {r.status_code}", 0) + 1
            except httpx.HTTPError as exc:
                errors[f"findings {type(exc).__name__}"] = errors.get(f"findings {type(exc).__name__}", 0) + 1
            lat.append(time.perf_counter() - t)

        tasks = []
        for i in range(int(seconds * rate)):
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            back = rng.random() < backdated_share
            backdated += back
            tasks.append(asyncio.create_task(post(_finding(run, i, rng.choice(codes), as_of, back, rng))))
            sent += 1
        await asyncio.gather(*tasks)
    a = np.array(lat) * 1000 if lat else np.zeros(1)
    return {"sent": sent, "created": created, "repeats": repeats, "backdated": backdated, "errors": errors,
            "p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99))}


async def _sample_rss(server: psutil.Process, seconds: float, samples: list[tuple[float, float]]) -> None:
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        procs = [server, *server.children(recursive=True)]
        total = 0
        for p in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
        samples.append((time.perf_counter() - start, total / 2**20))
        await asyncio.sleep(RSS_EVERY)


def _stored(workspace: Path, run: str) -> tuple[int, int]:
    """(rows stored with this run's insp_ids, distinct insp_ids among them)."""
    from sqlalchemy import func, select

    from records import Finding
    from serving.store import open_database

    db = open_database(workspace)
    try:
        with db.session() as s:
            like = Finding.insp_id.like(f"SOAK-{run}-%")
            n, distinct = s.execute(select(func.count(), func.count(func.distinct(Finding.insp_id))).where(like)).one()
        return int(n), int(distinct)
    finally:
        db.dispose()


def _drop(workspace: Path, run: str) -> None:
    from sqlalchemy import delete

    from records import Finding, FindingPoints
    from serving.store import open_database

    db = open_database(workspace)
    try:
        with db.session() as s:
            s.execute(delete(FindingPoints).where(FindingPoints.insp_id.like(f"SOAK-{run}-%")))
            s.execute(delete(Finding).where(Finding.insp_id.like(f"SOAK-{run}-%")))
            s.commit()
    finally:
        db.dispose()


def _pct(a: np.ndarray, q: float) -> float:
    return float(np.percentile(a, q)) if len(a) else float("nan")


def main() -> None:
    ap = workspace_parser(__doc__)
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--rate", type=float, default=10.0, help="findings per second")
    ap.add_argument("--backdated-share", type=float, default=0.01,
                    help="share of findings dated inside the exclusion window before as_of")
    ap.add_argument("--keep-findings", action="store_true", help="leave the soak's findings in the database")
    ap.add_argument("--client", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python",
                    help="load generator: wrk (apt-get install wrk), half the connections on each endpoint; "
                         "or Python processes mixing both endpoints per connection")
    args = ap.parse_args()

    from serving.auth import issue
    from serving.serve_cli import service_env, stop
    from serving.store import open_database

    db = open_database(args.workspace)
    admin = issue(db, "soak-load", "admin")[1]
    supervisor = issue(db, "soak-findings", "supervisor")[1]
    db.dispose()
    run = uuid.uuid4().hex[:8]
    proc, base, ready = start_service(service_env(args.workspace, args.models), new_session=True)
    try:
        print(f"service ready in {ready:.1f} s (pid {proc.pid}); run id {run}")
        h = {"Authorization": f"Bearer {admin}"}
        answer = httpx.post(base + "/api/plan", json={"capacity": 50}, headers=h, timeout=120)
        if answer.status_code != 200:
            sys.exit(f"the first plan failed: {answer.status_code} {answer.text[:500]}")
        first = answer.json()
        as_of = date.fromisoformat(first["meta"]["as_of"])
        explain_codes = [t["fixmedins_code"] for t in first["targets"]]
        everyone = httpx.post(base + "/api/plan", json={"capacity": 500, "exploration_share": 0}, headers=h,
                              timeout=120).json()
        all_codes = [t["fixmedins_code"] for t in everyone["targets"]]
        plans = [{"capacity": 50, "seed": s, "exploration_share": 0.1} for s in range(20)]
        t_warm = time.perf_counter()
        for _ in range(WARM_ROUNDS):  # fresh connections land on either worker; each has its own caches
            for c in explain_codes:
                httpx.post(base + "/api/explain", json={"code": c}, headers=h, timeout=120)
            for b in plans:
                httpx.post(base + "/api/plan", json=b, headers=h, timeout=120)
        print(f"warm-up {time.perf_counter() - t_warm:.1f} s; as_of {as_of}; {len(all_codes)} facilities planned "
              f"at capacity 500; {len(plans)} plan bodies, {len(explain_codes)} explain codes")

        server = psutil.Process(proc.pid)
        rss: list[tuple[float, float]] = []
        scripts = Path(tempfile.mkdtemp(prefix="soak-"))
        if args.client == "wrk":
            half = args.clients // 2
            explain_bodies = [{"code": c} for c in explain_codes]
            pool = ThreadPoolExecutor(2)
            loaders = [pool.submit(_wrk_minutes, base, admin, "/api/plan", plans, half, args.seconds, scripts),
                       pool.submit(_wrk_minutes, base, admin, "/api/explain", explain_bodies, args.clients - half,
                                   args.seconds, scripts)]
        else:
            queue: mp.Queue = mp.get_context("spawn").Queue()
            ctx = mp.get_context("spawn")
            per = [args.clients // LOAD_PROCESSES + (i < args.clients % LOAD_PROCESSES) for i in range(LOAD_PROCESSES)]
            loaders = [ctx.Process(target=_load, args=(base, admin, plans, explain_codes, n, args.seconds, i, queue))
                       for i, n in enumerate(per)]
            for p in loaders:
                p.start()

        async def side() -> dict:
            found, _ = await asyncio.gather(
                _record_findings(base, supervisor, run, all_codes, as_of, args.rate, args.seconds,
                                 args.backdated_share),
                _sample_rss(server, args.seconds, rss),
            )
            return found

        found = asyncio.run(side())
        if args.client == "wrk":
            results = [_wrk_minutes_result(f.result(timeout=300)) for f in loaders]
        else:
            results = [queue.get(timeout=120) for _ in loaders]
            for p in loaders:
                p.join(60)
        stored, distinct = _stored(args.workspace, run)
    finally:
        children = psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []
        stop(proc)
        for child in children:  # the workers, should a SIGTERM have left one behind
            if child.is_running():
                child.kill()
        if not args.keep_findings:
            _drop(args.workspace, run)

    errors: dict[str, int] = dict(found["errors"])
    table: dict[str, dict] = {}
    if args.client == "wrk":
        for kind, r in zip(("plan", "explain"), results, strict=True):
            table[kind] = r
            if r["errors"]:
                errors[kind] = r["errors"]
    else:
        for r in results:
            for k, v in r["errors"].items():
                errors[k] = errors.get(k, 0) + v
        for kind in ("plan", "explain"):
            ms = np.concatenate([r["rows"][kind] for r in results])[:, 1] * 1000
            rows = np.concatenate([r["rows"][kind] for r in results])
            minute = (rows[:, 0] // SEGMENT).astype(int)
            per_minute = [_pct(ms[minute == m], 99) for m in range(int(np.ceil(args.seconds / SEGMENT)))]
            table[kind] = {"n": len(ms), "p50_ms": _pct(ms, 50), "p99_ms": _pct(ms, 99),
                           "max_ms": float(ms.max()) if len(ms) else float("nan"), "rps": len(ms) / args.seconds,
                           "p99_per_minute": per_minute}
    total = sum(r["n"] for r in table.values())
    print(f"\nsoak {args.seconds:.0f} s, {args.clients} connections (client: {args.client}), "
          f"findings at {args.rate:g}/s ({args.backdated_share:.0%} back-dated into the exclusion window)")
    print("| endpoint | requests | p50 ms | p99 ms | max ms | req/s |")
    print("|---|---|---|---|---|---|")
    for kind, r in table.items():
        print(f"| {kind} | {r['n']:,} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.0f} | {r['rps']:,.0f} |")
    print(f"| findings | {found['sent']:,} | {found['p50_ms']:.1f} | {found['p99_ms']:.1f} | | {args.rate:g} |")
    for kind, r in table.items():
        print(f"{kind} p99 per minute (ms): " + " ".join(f"{v:.0f}" for v in r["p99_per_minute"])
              + f"; worst minute {max(r['p99_per_minute']):.1f}")
    print(f"all requests: {total + found['sent']:,}, {(total + found['sent']) / args.seconds:,.0f} req/s; "
          f"errors: {sum(errors.values())} {errors or ''}")
    print(f"findings: sent {found['sent']:,} ({found['backdated']} back-dated), acknowledged created "
          f"{found['created']:,}, answered as repeats {found['repeats']}, stored {stored:,} "
          f"({distinct:,} distinct); lost {found['sent'] - stored}, duplicated {stored - distinct}")
    first_min = [m for t, m in rss if t < 60]
    last_min = [m for t, m in rss if t >= rss[-1][0] - 60]
    print(f"service RSS (parent and workers): first minute {np.mean(first_min):,.0f} MB, last minute "
          f"{np.mean(last_min):,.0f} MB ({(np.mean(last_min) - np.mean(first_min)) / np.mean(first_min):+.1%}); "
          f"every 60 s: " + " ".join(f"{m:.0f}" for t, m in rss if int(t) % 60 < RSS_EVERY))


if __name__ == "__main__":
    main()
