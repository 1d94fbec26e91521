"""倒卖药品 / 回流药: a box already settled (its trace code used) is settled again.

Trace: the same 追溯码 on two settled sale lines (the second at the scheming pharmacy, often on
another person's card). Legitimate sales never repeat a trace code; a refund line repeats its
sale's code with a negative amount. Parameter: resold boxes per month = Poisson(0.3 × intensity ×
the facility's trace-coded lines last month + 2 × intensity). Evasive: the resold box is settled
without its trace code, so no code repeats (nothing requires one on the line).
"""

from __future__ import annotations

import numpy as np

from simulator.behaviours import Active, Ctx, local_people
from simulator.behaviours.common import add_lines, add_visits
from simulator.care import M41, make_visits
from simulator.config import month_first_day, month_n_days
from simulator.lines import MODE_TEMPLATE


def visits(ctx: Ctx, act: Active) -> None:
    pool = ctx.st.trace_pool
    if len(act.rows) == 0 or not pool or len(pool["item"]) == 0:
        return
    rng, w = ctx.rng, ctx.w
    d0, nd = month_first_day(ctx.m), month_n_days(ctx.m)
    picks, schemes = [], []
    for s in act.rows:
        f = act.sch.fac[s]
        own = np.flatnonzero(pool["fac"] == f)
        k = int(rng.poisson(0.3 * act.intensity[s] * len(own) + 2 * act.intensity[s]))
        src = own if len(own) >= k else np.arange(len(pool["item"]))
        if k == 0 or len(src) == 0:
            continue
        picks.append(rng.choice(src, size=min(k, len(src)), replace=False))
        schemes.append(np.full(len(picks[-1]), s))
    if not picks:
        return
    pk, sc = np.concatenate(picks), np.concatenate(schemes)
    fac = act.sch.fac[sc]
    person = local_people(w, fac, rng, day=d0)
    f = make_visits(w, rng, person, fac, M41, d0 + rng.integers(0, nd, len(pk)), np.full(len(pk), -1), MODE_TEMPLATE)
    f["pattern"][:] = act.pattern
    f["scheme"] = sc.astype(np.int32)
    rows = add_visits(ctx, f)
    assert ctx.stash is not None
    ctx.stash["resale"] = (rows, pool["item"][pk], pool["tser"][pk], sc)


def lines(ctx: Ctx, act: Active) -> None:
    if ctx.stash is None or "resale" not in ctx.stash:
        return
    rows, item, tser, sc = ctx.stash.pop("resale")
    tser = np.where(act.sch.evasive[sc], -1, tser)
    add_lines(ctx, rows, item, np.ones(len(rows)), ctx.v["begin"][rows], act.pattern, sc, tser=tser)
