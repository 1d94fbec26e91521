"""挂床住院 / 虚假住院: stays with bed, nursing and ward-round fees only, no treatment.

Trace: inpatient days without any drug, test or treatment line; patients admitted in groups on
the same day; census above open_beds (beds are declared from the honest census). Parameter: new
stays per month ≈ 0.3 × intensity × the facility's honest admissions (+ Poisson(intensity)),
5–20 days, local people aged 60+, in 1–3 admission groups.
"""

from __future__ import annotations

import numpy as np

from simulator.behaviours import Active, Ctx, extra_visit_schemes, local_people, scheme_physician
from simulator.behaviours.common import add_visits
from simulator.care import M21, make_visits
from simulator.codes import diag_id
from simulator.config import month_first_day, month_n_days
from simulator.lines import MODE_BED, MODE_IP

_DIAGS = ("I25.1", "E11.9", "I63.9")


def visits(ctx: Ctx, act: Active) -> None:
    if len(act.rows) == 0:
        return
    v, rng, w = ctx.v, ctx.rng, ctx.w
    n_ip = np.bincount(v["fac"][v["mode"] == MODE_IP], minlength=w.fac.n)
    s = extra_visit_schemes(act, rng, n_ip, per_visit=0.3, base=1.0)
    if len(s) == 0:
        return
    fac = act.sch.fac[s]
    d0, nd = month_first_day(ctx.m), month_n_days(ctx.m)
    group_days = d0 + rng.integers(0, nd, (len(act.sch.fac), 3))
    day = group_days[s, rng.integers(0, 3, len(s))]
    person = local_people(w, fac, rng, min_age=60, day=d0)
    dg = np.array([diag_id(c, "ip") for c in _DIAGS])[rng.integers(0, len(_DIAGS), len(s))]
    f = make_visits(w, rng, person, fac, M21, day, dg, MODE_IP, los=rng.integers(5, 21, len(s)))
    f["mode"][:] = MODE_BED
    f["pattern"][:] = act.pattern
    f["scheme"] = act.fac_map[f["fac"]].astype(np.int32)
    f["dr"] = scheme_physician(act, f["scheme"].astype(np.int64), w, f["fac"], rng)
    add_visits(ctx, f)
