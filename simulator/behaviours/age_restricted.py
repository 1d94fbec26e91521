"""限年龄项目违规: paediatric items (lmt_age_max = 14) billed to adults.

Trace: 小儿推拿, 小儿静脉输液加收, 小儿复方氨基酸, 儿童退热滴剂 on patients aged 18+.
Parameter: share of touched adult visits = 0.12 × intensity.
"""

from __future__ import annotations

import numpy as np

from simulator.behaviours import Active, Ctx
from simulator.behaviours.common import add_lines, pick, variants
from simulator.lines import MODE_IP, MODE_OP

_PEDS = ("PEDS_IV", "PEDS_MASS", "PEDS_AMINO", "PARA_KID")


def lines(ctx: Ctx, act: Active) -> None:
    v, rng = ctx.v, ctx.rng
    mask, s = act.visit_mask(v)
    mask &= np.isin(v["mode"], (MODE_OP, MODE_IP)) & (v["age"] >= 18)
    sel = np.flatnonzero(mask & (rng.random(len(mask)) < act.prob(s, 0.12)))
    if len(sel):
        add_lines(ctx, sel, pick(variants(ctx, _PEDS), len(sel), rng), np.ones(len(sel)), v["begin"][sel] + 180,
                  act.pattern, s[sel])
