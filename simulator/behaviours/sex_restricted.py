"""限性别项目违规: gynaecological items billed to men, prostate items billed to women.

Trace: lines whose catalogue lmt_gend differs from the patient's sex. Honest care never does
this (bundles for sex-specific diagnoses only). Parameter: share of touched visits = 0.12 ×
intensity; the item is improper in full (it cannot have been given).
"""

from __future__ import annotations

import numpy as np

from simulator.behaviours import Active, Ctx
from simulator.behaviours.common import add_lines, pick, variants
from simulator.lines import MODE_IP, MODE_OP

_FOR_MEN = ("LEUC", "TCT", "US_GYN", "HCG")
_FOR_WOMEN = ("PSA", "US_PROST")


def lines(ctx: Ctx, act: Active) -> None:
    v, rng = ctx.v, ctx.rng
    mask, s = act.visit_mask(v)
    mask &= np.isin(v["mode"], (MODE_OP, MODE_IP)) & (v["age"] >= 15)
    sel = np.flatnonzero(mask & (rng.random(len(mask)) < act.prob(s, 0.12)))
    if len(sel) == 0:
        return
    male = ctx.w.per.male[v["person"][sel]]
    items = np.where(male, pick(variants(ctx, _FOR_MEN), len(sel), rng),
                     pick(variants(ctx, _FOR_WOMEN), len(sel), rng))
    add_lines(ctx, sel, items, np.ones(len(sel)), v["begin"][sel] + 120, act.pattern, s[sel])
