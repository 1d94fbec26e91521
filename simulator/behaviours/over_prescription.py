"""超量开药: days of supply beyond the catalogue's max_days_supply (7 acute, 90 chronic).

Trace: cnt × days_per_unit far above max_days_supply (2–4×); adaptive schemers prescribe exactly
the maximum on every line, and so do evasive ones (the days-supply rule fires only above it).
Improper = the extra units. Parameter: share of oral-drug lines inflated = 0.4 × intensity.
"""

from __future__ import annotations

import numpy as np

from simulator.behaviours import Active, Ctx
from simulator.behaviours.common import chosen, touched_lines


def lines(ctx: Ctx, act: Active) -> None:
    ln, rng, cat = ctx.ln, ctx.rng, ctx.w.cat
    assert ln is not None
    vmask, s = act.visit_mask(ctx.v)
    cand = touched_lines(ctx, vmask)
    item = ln["item"][cand]
    hit = chosen(ctx, act, cand[(cat.days_per_unit[item] > 0) & (cat.max_days[item] > 0)], s, 0.4)
    if len(hit) == 0:
        return
    sl = s[ln["row"][hit]]
    dpu = cat.days_per_unit[ln["item"][hit]]
    maxd = cat.max_days[ln["item"][hit]]
    adaptive = act.sch.adaptive[sl] | act.sch.evasive[sl]
    at_max = np.floor(maxd / dpu)
    over = np.ceil(maxd * rng.uniform(2, 4, len(hit)) / dpu)
    new = np.where(adaptive, at_max, over)
    ok = new > ln["cnt"][hit]
    hit, new, sl = hit[ok], new[ok], sl[ok]
    extra = new - ln["cnt"][hit]
    ln["fraud"][hit] = np.rint(extra * ln["pric"][hit]).astype(np.int64)
    ln["cnt"][hit] = new
    ln["pattern"][hit] = act.pattern
    ln["scheme"][hit] = sl
