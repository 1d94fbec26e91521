"""A facility over the last rounds, beside its peers: what each earlier snapshot (one per planning date)
said of it and of the median facility of its peer group, for the page's trend chart.

Read once per service from the snapshots in the workspace dated up to the served one (the newest
`N_ROUNDS`); a snapshot built with other feature declarations still has these columns or is skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.snapshot.registry import get
from feijian.settings import Workspace

N_ROUNDS = 8
TREND_FEATURES = ("fund_pay", "rule_hit_amount_share")  # money paid, and how much of it rules flag


@dataclass(frozen=True)
class Trend:
    as_of: list[str]  # planning dates, oldest first
    rows: pd.DataFrame  # (as_of, fixmedins_code, peer_group, features...)
    medians: pd.DataFrame  # (as_of, peer_group) → feature medians

    def of(self, code: str) -> dict[str, object]:
        mine = self.rows[self.rows["fixmedins_code"] == str(code)]
        series = []
        for name in TREND_FEATURES:
            f = get(name)
            value, peer = [], []
            for day in self.as_of:
                r = mine[mine["as_of"] == day]
                v = None if r.empty else r.iloc[0][name]
                m = None
                if not r.empty and (day, r.iloc[0]["peer_group"]) in self.medians.index:
                    m = self.medians.loc[(day, r.iloc[0]["peer_group"]), name]
                value.append(None if v is None or pd.isna(v) else float(v))
                peer.append(None if m is None or pd.isna(m) else float(m))
            series.append({"feature": name, "label": f.label, "unit": f.unit, "value": value, "peer_median": peer})
        return {"as_of": self.as_of, "series": series}


def read_trend(workspace: Path, as_of: str) -> Trend:
    """The newest N_ROUNDS snapshots dated up to `as_of` (ISO date), one per date."""
    folder = Workspace(workspace).features
    by_day: dict[str, Path] = {}
    for snap in sorted(folder.glob("*_w*_*")) if folder.is_dir() else []:
        meta = snap / "meta.json"
        if not (meta.is_file() and (snap / "facility.parquet").is_file()):
            continue
        day = json.loads(meta.read_text(encoding="utf-8")).get("as_of", "")
        if day and day <= as_of:
            by_day[day] = snap  # several builds of one date: the last listed (names sort by date first)
    days = sorted(by_day)[-N_ROUNDS:]
    want = ["fixmedins_code", "peer_group", *TREND_FEATURES]
    frames = []
    for day in days:
        try:
            f = pd.read_parquet(by_day[day] / "facility.parquet", columns=want)
        except (KeyError, ValueError):  # an older declaration without one of the columns
            continue
        frames.append(f.assign(as_of=day))
    if not frames:
        empty = pd.DataFrame(columns=["as_of", *want])
        return Trend([], empty, empty.set_index(["as_of", "peer_group"]))
    rows = pd.concat(frames, ignore_index=True)
    rows["fixmedins_code"] = rows["fixmedins_code"].astype(str)
    medians = rows.groupby(["as_of", "peer_group"])[list(TREND_FEATURES)].median()
    return Trend(sorted(rows["as_of"].unique().tolist()), rows, medians)
