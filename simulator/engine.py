"""The month loop: care → behaviours → fee lines → money → Parquet, with inspections inside.

Inspections run at each quarter's first month using only what happened before it, and their
findings change behaviour from the month after the visit, so the labels are endogenous the way
real ones are. At most three months of fee lines are in memory: one being generated, one being
settled (on its own thread), one waiting for or in the Parquet writer.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from simulator.behaviours import Ctx, active_schemes, plan_schemes
from simulator.behaviours.mechanisms import registry
from simulator.care import legit_visits
from simulator.config import (
    N_MONTHS,
    NEXT_ROUND_DATE,
    day_of,
    export_end_day,
    month_first_day,
    month_label,
    parse_scale,
)
from simulator.facilities import T
from simulator.inspections import ROUND_MONTHS, run_round
from simulator.lines import MODE_IP, expand
from simulator.reference import reference_tables
from simulator.settle import settle_month
from simulator.truth import TruthRecorder
from simulator.world import World, build_world, initial_state
from simulator.writer import BackgroundWriter, to_table, write

Progress = Callable[[int, int], None]
_TRACE_FROM_MONTH = 12  # hospitals record trace codes from 2023-01; pharmacies throughout


def run(out: Path, seed: int = 7, scale: str | int = "demo", progress: Progress | None = None) -> dict:
    t0 = time.perf_counter()
    sc = parse_scale(scale)
    w = build_world(sc, seed)
    sch = plan_schemes(w, np.random.default_rng([seed, 2]))
    st = initial_state(w, np.random.default_rng([seed, 5]))
    inp, tru = out / "input", out / "truth"
    for d in (inp, tru):
        if d.exists():
            shutil.rmtree(d)
    inp.mkdir(parents=True)
    truth = TruthRecorder(w, tru)
    writer = BackgroundWriter()
    reg = registry()
    counts = {"mdtrt_d": 0, "setl_d": 0, "fee_list_d": 0}
    insp_rows: list[dict] = []
    point_rows: list[dict] = []
    history: list[dict] = []
    d_start = month_first_day(0)
    settler = ThreadPoolExecutor(max_workers=1, thread_name_prefix="settle")
    pending: Future | None = None

    def finish_month(m: int, v: dict, ln: dict, rng: np.random.Generator) -> None:
        """Money, ids and the Arrow tables of month m, then hand them to the writer (on `settler`)."""
        res = settle_month(w, st, m, v, ln, rng)
        for name in counts:
            tbl = to_table(name, res[name])
            counts[name] += tbl.num_rows
            writer.put(inp / name / f"part-{m:05d}.parquet", tbl)
        truth.add_month(m, res["truth"])
        if progress:
            progress(m, counts["fee_list_d"])

    try:
        for m in range(N_MONTHS):
            rng = np.random.default_rng([seed, 3, m])
            if m in ROUND_MONTHS:
                if pending is not None:  # inspections read the money settled up to last month
                    pending.result()
                rows, pts = run_round(w, st, sch, m, len(insp_rows), history, np.random.default_rng([seed, 4, m]))
                insp_rows += rows
                point_rows += pts
            acts = {p: active_schemes(sch, st, m, p, w.fac.n) for p in reg}
            ot = acts["over_testing"]
            a1c_short = np.zeros(w.fac.n)
            a1c_scheme = np.full(w.fac.n, -1, dtype=np.int64)
            a1c_short[sch.fac[ot.rows]] = np.minimum(0.9, 0.5 * ot.intensity[ot.rows])
            a1c_scheme[sch.fac[ot.rows]] = ot.rows
            v = legit_visits(w, st, m, rng, a1c_short, a1c_scheme)
            _census(st.census, v, d_start)
            ctx = Ctx(w, st, m, rng, v, None, {})
            for p, (vis_fn, _) in reg.items():
                if vis_fn is not None:
                    vis_fn(ctx, acts[p])
            ctx.ln = _lines(w, ctx, m)
            for p, (_, line_fn) in reg.items():
                if line_fn is not None:
                    line_fn(ctx, acts[p])
            _update_pool(st, ctx, rng)
            if pending is not None:
                pending.result()
            # Month m is settled while month m + 1 is generated: settling touches only the id
            # counters and the money aggregates (st.taken, st.fund, st.n_visits), which nothing reads
            # before the next inspection round waits for it above; `rng` is month m's alone.
            pending = settler.submit(finish_month, m, ctx.v, ctx.ln, rng)
        if pending is not None:
            pending.result()
    finally:
        settler.shutdown(wait=True, cancel_futures=True)
        writer.close()
    refs = reference_tables(w, st, insp_rows, point_rows, d_start)
    for name, cols in refs.items():
        tbl = to_table(name, cols)
        counts[name] = tbl.num_rows
        write(inp / name / "part-00000.parquet", tbl)
    truth_counts = truth.finish(st, sch)
    seconds = time.perf_counter() - t0
    meta = {
        "seed": seed, "scale": sc.name, "n_facilities": sc.n_facilities, "n_persons": sc.persons,
        "first_month": month_label(0), "last_month": month_label(N_MONTHS - 1),
        "export_end": str(np.datetime64(export_end_day(), "D")), "next_round_date": NEXT_ROUND_DATE.isoformat(),
        "inspection_capacity": sc.capacity, "counts": dict(sorted(counts.items())),
    }
    (out / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return {"counts": counts, "truth_counts": truth_counts, "seconds": seconds, "input": str(inp),
            "truth": str(tru), "meta": str(out / "meta.json"),
            "fee_lines_per_second": counts["fee_list_d"] / max(seconds, 1e-9)}


def _census(census: np.ndarray, v: dict, d_start: int) -> None:
    """Honest inpatient census as a per-day difference array (beds are declared from it)."""
    ip = v["mode"] == MODE_IP
    a = v["day"][ip] - d_start
    b = np.minimum(a + v["los"][ip], census.shape[1] - 1)
    np.add.at(census, (v["fac"][ip], a), 1)
    np.add.at(census, (v["fac"][ip], b), -1)


def _lines(w: World, ctx: Ctx, m: int) -> dict:
    v = ctx.v
    ln = expand(v, v["age"], w.fac.tier, w.cat, w.bd, ctx.rng)
    n = len(ln["row"])
    fac = v["fac"][ln["row"]]
    ln["pric"] = w.price[fac, ln["item"]]
    ln["pattern"] = np.zeros(n, dtype=np.int8)
    ln["fraud"] = np.zeros(n, dtype=np.int64)
    ln["scheme"] = np.full(n, -1, dtype=np.int64)
    ln["dr"] = v["dr"][ln["row"]]
    ln["titem"] = ln["item"].copy()
    records = w.cat.trace[ln["item"]] & ((w.fac.ftype[fac] == T["pharmacy"]) | (m >= _TRACE_FROM_MONTH))
    tser = np.full(n, -1, dtype=np.int64)
    k = int(records.sum())
    tser[records] = ctx.st.trace_seq + np.arange(k)
    ctx.st.trace_seq += k
    ln["tser"] = tser
    return ln


def _update_pool(st, ctx: Ctx, rng: np.random.Generator) -> None:
    """Boxes sold this month that a reseller could bring back next month."""
    ln = ctx.ln
    assert ln is not None
    ok = np.flatnonzero((ln["tser"] >= 0) & (ln["pattern"] == 0))
    if len(ok) > 20000:
        ok = np.sort(rng.choice(ok, 20000, replace=False))
    st.trace_pool = {"item": ln["titem"][ok], "tser": ln["tser"][ok], "fac": ctx.v["fac"][ln["row"][ok]]}


__all__ = ["day_of", "run"]
