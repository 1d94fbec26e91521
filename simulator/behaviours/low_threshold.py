"""低标准入院: admitting patients with mild conditions (J06.9, K29.7, M54.5) for short cheap stays.

Trace: a high share of admissions with mild main diagnoses and 2–4-day stays, above the peer
group's admission rate. Parameter: extra admissions per month ≈ 0.3 × intensity × honest
admissions + Poisson(intensity); adaptive schemers keep stays at 3–5 days, evasive ones at 4–7
(above the mild-admission rule's 3 days).
"""

from __future__ import annotations

import numpy as np

from simulator.behaviours import Active, Ctx, local_people
from simulator.behaviours.common import add_scheme_visits, extra_visits
from simulator.care import M21, make_visits
from simulator.codes import diag_ids
from simulator.lines import MODE_IP


def visits(ctx: Ctx, act: Active) -> None:
    v, rng, w = ctx.v, ctx.rng, ctx.w
    n_ip = np.bincount(v["fac"][v["mode"] == MODE_IP], minlength=w.fac.n)
    draw = extra_visits(ctx, act, n_ip, per_visit=0.3, base=1.0)
    if draw is None:
        return
    s, fac, d0, nd = draw
    person = local_people(w, fac, rng, min_age=15, day=d0)
    mild = np.array(diag_ids("mild"))
    dg = mild[rng.integers(0, len(mild), len(s))]
    los = np.where(act.sch.adaptive[s], rng.integers(3, 6, len(s)), rng.integers(2, 5, len(s)))
    evasive = act.sch.evasive[s]
    if evasive.any():  # drawn only then: a province without evasive schemes keeps its draws
        los = np.where(evasive, rng.integers(4, 8, len(s)), los)
    f = make_visits(w, rng, person, fac, M21, d0 + rng.integers(0, nd, len(s)), dg, MODE_IP, los=los)
    add_scheme_visits(ctx, act, f)
