"""高套病组: the main diagnosis and DRG are made heavier than the care given.

Trace: DRG suffix 1 (severe complication) and a heavier code while LOS, cost and lines stay those
of an uncomplicated case; young patients without chronic conditions in severe groups. The amount
taken is the extra case payment: Δweight × DRG_RATE × fund share (no fee line changes).
Parameter: share of stays up-coded = 0.35 × intensity; adaptive schemers step 5 → 3 only.
"""

from __future__ import annotations

import numpy as np

from simulator.behaviours import Active, Ctx
from simulator.codes import DIAGS, DRG_RATE, DRG_SUFFIX_FACTOR
from simulator.lines import MODE_IP

_HAS_DRG = np.array([d.adrg is not None for d in DIAGS], dtype=bool)


def visits(ctx: Ctx, act: Active) -> None:
    v, rng = ctx.v, ctx.rng
    mask, s = act.visit_mask(v)
    has_drg = _HAS_DRG[np.maximum(v["diag"], 0)]
    mask &= (v["mode"] == MODE_IP) & (v["sfx"] != 1) & has_drg
    sel = np.flatnonzero(mask & (rng.random(len(mask)) < act.prob(s, 0.35)))
    if len(sel) == 0:
        return
    old = v["sfx"][sel]
    adaptive = act.sch.adaptive[s[sel]]
    new = np.where(adaptive & (old == 5), 3, 1).astype(np.int8)
    base = np.array([DIAGS[d].weight for d in v["diag"][sel]])
    f_old = np.vectorize(DRG_SUFFIX_FACTOR.get)(old)
    f_new = np.vectorize(DRG_SUFFIX_FACTOR.get)(new)
    v["sfx"][sel] = new
    v["pattern"][sel] = act.pattern
    v["scheme"][sel] = s[sel]
    v["upc"][sel] = np.round(base * (f_new - f_old) * DRG_RATE * 0.75, 2)
