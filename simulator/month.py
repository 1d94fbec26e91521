"""One month of claims before money: care → behaviours → fee lines (settle.py turns them into tables).

Each step reads the state left by the months and inspections before it (schedules, suppression
after a finding, the trace codes sold last month) and leaves its own marks for the next month.
"""

from __future__ import annotations

import numpy as np

from simulator.behaviours import Ctx, Schemes, Stage, active_schemes
from simulator.care import legit_visits
from simulator.config import month_first_day
from simulator.facilities import T
from simulator.frame import Frame
from simulator.lines import MODE_IP, expand
from simulator.world import State, World

_TRACE_FROM_MONTH = 12  # hospitals record trace codes from 2023-01; pharmacies throughout


def generate_month(w: World, st: State, sch: Schemes, reg: dict[str, tuple[Stage | None, Stage | None]], m: int,
                   rng: np.random.Generator) -> tuple[Frame, Frame]:
    """Visits and fee lines of month m (legitimate care plus every active scheme's), still in cents."""
    acts = {p: active_schemes(sch, st, m, p, w.fac.n) for p in reg}
    ot = acts["over_testing"]
    a1c_short = np.zeros(w.fac.n)
    a1c_scheme = np.full(w.fac.n, -1, dtype=np.int64)
    # an evasive over-tester leaves the HbA1c interval alone (the frequency rule reads it)
    a1c_short[sch.fac[ot.rows]] = np.where(sch.evasive[ot.rows], 0.0, np.minimum(0.9, 0.5 * ot.intensity[ot.rows]))
    a1c_scheme[sch.fac[ot.rows]] = ot.rows
    v = legit_visits(w, st, m, rng, a1c_short, a1c_scheme)
    _census(st.census, v, month_first_day(0))
    ctx = Ctx(w, st, m, rng, v, None, {})
    for p, (vis_fn, _) in reg.items():
        if vis_fn is not None:
            vis_fn(ctx, acts[p])
    ctx.ln = _lines(w, ctx, m)
    for p, (_, line_fn) in reg.items():
        if line_fn is not None:
            line_fn(ctx, acts[p])
    _update_pool(st, ctx, rng)
    return ctx.v, ctx.ln


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


def _update_pool(st: State, ctx: Ctx, rng: np.random.Generator) -> None:
    """Boxes sold this month that a reseller could bring back next month."""
    ln = ctx.ln
    assert ln is not None
    ok = np.flatnonzero((ln["tser"] >= 0) & (ln["pattern"] == 0))
    if len(ok) > 20000:
        ok = np.sort(rng.choice(ok, 20000, replace=False))
    st.trace_pool = {"item": ln["titem"][ok], "tser": ln["tser"][ok], "fac": ctx.v["fac"][ln["row"][ok]]}


__all__ = ["generate_month"]
