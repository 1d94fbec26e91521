"""超量开药: days of supply beyond the catalogue's max_days_supply (7 acute, 90 chronic).

Trace: cnt × days_per_unit far above max_days_supply (2–4×); adaptive schemers prescribe exactly
the maximum on every line. Improper = the extra units. Parameter: share of oral-drug lines
inflated = 0.4 × intensity.
"""

from __future__ import annotations

import numpy as np

from simulator.behaviours import Active, Ctx
from simulator.behaviours.common import line_mask


def lines(ctx: Ctx, act: Active) -> None:
    ln, rng, cat = ctx.ln, ctx.rng, ctx.w.cat
    assert ln is not None
    vmask, s = act.visit_mask(ctx.v)
    lm = line_mask(ctx, vmask)
    sl = s[ln["row"]]
    dpu = cat.days_per_unit[ln["item"]]
    maxd = cat.max_days[ln["item"]]
    hit = np.flatnonzero(lm & (dpu > 0) & (maxd > 0)
                         & (rng.random(len(lm)) < act.prob(sl, 0.4)))
    if len(hit) == 0:
        return
    adaptive = act.sch.adaptive[sl[hit]]
    at_max = np.floor(maxd[hit] / dpu[hit])
    over = np.ceil(maxd[hit] * rng.uniform(2, 4, len(hit)) / dpu[hit])
    new = np.where(adaptive, at_max, over)
    ok = new > ln["cnt"][hit]
    hit, new = hit[ok], new[ok]
    extra = new - ln["cnt"][hit]
    ln["fraud"][hit] = np.rint(extra * ln["pric"][hit]).astype(np.int64)
    ln["cnt"][hit] = new
    ln["pattern"][hit] = act.pattern
    ln["scheme"][hit] = sl[hit]
