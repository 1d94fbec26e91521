"""虚构医药服务: visits and services that never happened, made from one template.

Trace: near-identical records across patients — the same 3–5 items with the same counts and
amounts, visits at regular 15-minute intervals on a few days, mostly older local people.
Parameter: fabricated visits per month = Poisson(0.04 × intensity × the facility's visits +
3 × intensity).
"""

from __future__ import annotations

import numpy as np

from simulator.behaviours import Active, Ctx, local_people, scheme_physician
from simulator.behaviours.common import add_lines, add_visits, extra_visits, variants
from simulator.care import M11, make_visits
from simulator.codes import diag_id
from simulator.config import DAY
from simulator.lines import MODE_TEMPLATE

_POOL = ("PT", "ACU", "MASSAGE", "CBC", "CRP", "ECG", "US_COLOR", "NEB", "HERB", "DRESS")


def _template(seed: int, s: int, ctx: Ctx) -> tuple[np.ndarray, np.ndarray]:
    r = np.random.default_rng([seed, 77, int(s)])
    pool = variants(ctx, _POOL)
    items = r.choice(pool, size=int(r.integers(3, 6)), replace=False)
    return items, r.integers(1, 4, len(items)).astype(np.float64)


def visits(ctx: Ctx, act: Active) -> None:
    v, rng, w = ctx.v, ctx.rng, ctx.w
    draw = extra_visits(ctx, act, np.bincount(v["fac"], minlength=w.fac.n), per_visit=0.04, base=3.0)
    if draw is None:
        return
    s, fac, d0, nd = draw
    person = local_people(w, fac, rng, min_age=50, day=d0)
    day = d0 + rng.integers(0, min(nd, 4), len(s)) * 7
    code = np.where(rng.random(len(s)) < 0.5, diag_id("M54.5", "op"), diag_id("J06.9", "op"))
    f = make_visits(w, rng, person, fac, M11, day, code, MODE_TEMPLATE)
    slot = np.arange(len(s)) % 30
    f["begin"] = day * DAY + 8 * 3600 + slot * 900
    f["end"] = f["begin"] + 600
    f["pattern"][:] = act.pattern
    f["scheme"] = s.astype(np.int32)
    f["tmpl"] = s.astype(np.int32)
    f["dr"] = scheme_physician(act, s, w, fac, rng)
    add_visits(ctx, f)


def lines(ctx: Ctx, act: Active) -> None:
    v = ctx.v
    rows = np.flatnonzero((v["mode"] == MODE_TEMPLATE) & (v["pattern"] == act.pattern))
    for s in np.unique(v["tmpl"][rows]):
        r = rows[v["tmpl"][rows] == s]
        items, cnts = _template(ctx.w.seed, int(s), ctx)
        reg = ctx.w.cat.first("REG")
        items = np.concatenate([[reg], items])
        cnts = np.concatenate([[1.0], cnts])
        rr = np.repeat(r, len(items))
        add_lines(ctx, rr, np.tile(items, len(r)), np.tile(cnts, len(r)),
                  v["begin"][rr] + np.tile(np.arange(len(items)) * 60, len(r)), act.pattern, s)
