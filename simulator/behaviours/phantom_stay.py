"""挂床住院 / 虚假住院: stays with bed, nursing and ward-round fees only, no treatment.

Trace: inpatient days without any drug, test or treatment line; patients admitted in groups on
the same day; census above open_beds (beds are declared from the honest census). Parameter: new
stays per month ≈ 0.3 × intensity × the facility's honest admissions (+ Poisson(intensity)),
5–20 days, local people aged 60+, in 1–3 admission groups. Evasive: an intramuscular injection
is billed on ~85 % of the stay days, so few days look idle to the no-treatment rule.
"""

from __future__ import annotations

import numpy as np

from simulator.behaviours import Active, Ctx, local_people
from simulator.behaviours.common import add_lines, add_scheme_visits, extra_visits, pick, variants
from simulator.care import M21, make_visits
from simulator.codes import diag_id
from simulator.config import DAY
from simulator.lines import MODE_BED, MODE_IP

_DIAGS = ("I25.1", "E11.9", "I63.9")


def visits(ctx: Ctx, act: Active) -> None:
    v, rng, w = ctx.v, ctx.rng, ctx.w
    n_ip = np.bincount(v["fac"][v["mode"] == MODE_IP], minlength=w.fac.n)
    draw = extra_visits(ctx, act, n_ip, per_visit=0.3, base=1.0)
    if draw is None:
        return
    s, fac, d0, nd = draw
    group_days = d0 + rng.integers(0, nd, (len(act.sch.fac), 3))
    day = group_days[s, rng.integers(0, 3, len(s))]
    person = local_people(w, fac, rng, min_age=60, day=d0)
    dg = np.array([diag_id(c, "ip") for c in _DIAGS])[rng.integers(0, len(_DIAGS), len(s))]
    f = make_visits(w, rng, person, fac, M21, day, dg, MODE_IP, los=rng.integers(5, 21, len(s)))
    f["mode"][:] = MODE_BED
    add_scheme_visits(ctx, act, f)


def lines(ctx: Ctx, act: Active) -> None:
    """The evasive schemes' token treatment: one injection line on most days of each stay."""
    if not act.sch.evasive[act.rows].any():
        return  # before any draw: a province without evasive schemes keeps its draws
    v, rng = ctx.v, ctx.rng
    rows = np.flatnonzero((v["mode"] == MODE_BED) & (v["pattern"] == act.pattern))
    rows = rows[act.sch.evasive[v["scheme"][rows]]]
    los = np.maximum(v["los"][rows], 1).astype(np.int64)
    srow = np.repeat(rows, los)
    sday = np.arange(len(srow), dtype=np.int64) - np.repeat(np.cumsum(los) - los, los)
    on = rng.random(len(srow)) < 0.85
    srow, sday = srow[on], sday[on]
    if len(srow) == 0:
        return
    t = (v["begin"][srow] // DAY + sday) * DAY + 9 * 3600 + (rng.random(len(srow)) * 8 * 3600).astype(np.int64)
    t = np.clip(t, v["begin"][srow], v["end"][srow])
    add_lines(ctx, srow, pick(variants(ctx, ("INJ",)), len(srow), rng), np.ones(len(srow)), t, act.pattern,
              v["scheme"][srow].astype(np.int64))
