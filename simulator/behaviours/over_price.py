"""超标准收费: prices above the catalogue's price_cap (adaptive schemers just at the cap).

Trace: pric > price_cap on capped items (5–40 % above); adaptive schemers price every capped item
at 97–99.9 % of the cap, above their tier's usual price. Improper = (pric − usual) × cnt.
Parameter: share of capped lines over-priced = 0.5 × intensity. Evasive schemers price the
adaptive way (under the cap, where the price-cap rule does not look).
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
    hit = chosen(ctx, act, cand[cat.cap_cents[ln["item"][cand]] > 0], s, 0.5)
    if len(hit) == 0:
        return
    sl = s[ln["row"][hit]]
    adaptive = act.sch.adaptive[sl] | act.sch.evasive[sl]
    c = cat.cap_cents[ln["item"][hit]].astype(np.float64)
    new = np.rint(np.where(adaptive, c * rng.uniform(0.97, 0.999, len(hit)), c * rng.uniform(1.05, 1.4, len(hit))))
    new = new.astype(np.int64)
    ok = new > ln["pric"][hit]
    hit, new, sl = hit[ok], new[ok], sl[ok]
    ln["fraud"][hit] = np.rint(ln["cnt"][hit] * (new - ln["pric"][hit])).astype(np.int64)
    ln["pric"][hit] = new
    ln["pattern"][hit] = act.pattern
    ln["scheme"][hit] = sl
