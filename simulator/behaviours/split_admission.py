"""分解住院: one stay billed as two — discharge, then readmit the same patient 1–7 days later.

Trace: readmissions of the same person at the same facility within 0–7 days (adaptive schemers
wait 8–15 days, past the usual rule window), each half a DRG case with a fresh admission work-up.
The second stay is improper in full. Parameter: share of stays ≥ 4 days split = 0.3 × intensity.
Evasive: the readmission comes 16–30 days later, past both readmission rules' windows.
"""

from __future__ import annotations

import numpy as np

from simulator.behaviours import Active, Ctx
from simulator.behaviours.common import add_visits
from simulator.care import M21
from simulator.config import DAY, export_end_day
from simulator.frame import take
from simulator.lines import MODE_IP


def visits(ctx: Ctx, act: Active) -> None:
    v, rng = ctx.v, ctx.rng
    mask, s = act.visit_mask(v)
    mask &= (v["mode"] == MODE_IP) & (v["los"] >= 4) & (v["med"] == M21)
    sel = np.flatnonzero(mask & (rng.random(len(mask)) < act.prob(s, 0.3)))
    if len(sel) == 0:
        return
    k = v["los"][sel] // 2
    gap = np.where(act.sch.adaptive[s[sel]], rng.integers(8, 16, len(sel)), rng.integers(1, 8, len(sel)))
    evasive = act.sch.evasive[s[sel]]
    if evasive.any():  # drawn only then: a province without evasive schemes keeps its draws
        gap = np.where(evasive, rng.integers(16, 31, len(sel)), gap)
    b = take(v, sel)
    b["day"] = v["day"][sel] + k + gap
    b["los"] = v["los"][sel] - k
    ok = b["day"] + b["los"] <= export_end_day()
    b = take(b, np.flatnonzero(ok))
    sel, k = sel[ok], k[ok]
    v["los"][sel] = k
    v["end"][sel] = (v["day"][sel] + k) * DAY + 9 * 3600 + (rng.random(len(sel)) * 3 * 3600).astype(np.int64)
    b["begin"] = b["day"] * DAY + 8 * 3600 + (rng.random(len(sel)) * 10 * 3600).astype(np.int64)
    b["end"] = (b["day"] + b["los"]) * DAY + 9 * 3600 + (rng.random(len(sel)) * 3 * 3600).astype(np.int64)
    b["pattern"][:] = act.pattern
    b["scheme"] = s[sel].astype(np.int32)
    b["age"] = ((b["day"] - ctx.w.per.birth_day[b["person"]]) // 365.25).astype(np.int64)
    add_visits(ctx, b)
