"""Find the rings: the pair graph of `sql/edges.sql`, its Leiden communities, their members, features
and evidence. Runs on either engine's connection (the SQL is the build's dialect; the graph is small
and is pulled to the driver)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import igraph as ig
import leidenalg
import numpy as np
import pandas as pd

from features.sql_text import query, run

_SQL = Path(__file__).parent / "sql"

# ICD-10 chapters of chronic care: a hospital visit for one of them, filled at a pharmacy the same or
# the next day, is a follow-up (外配处方), not a shared card.
CHRONIC_DIAGNOSES = ("I10", "I11", "I20", "I25", "E10", "E11", "E14", "J44", "J45")
BURST_PERSONS = 4  # a day on which at least this many shared cards came to both facilities is a burst
MIN_PERSONS = 10  # a pair of facilities sharing fewer cards than this is no edge: more than a household has
MIN_BURST_DAYS = 2  # … nor one whose shared cards never came in a burst on two days
MIN_CODES = 3  # trace codes settled at both facilities for a trace edge
PHYSICIAN_SHARE = 0.3  # a physician who billed this share of the shared cards' visits at a member …
PHYSICIAN_MIN_VISITS = 5  # … and at least this many is a member too
SEED = 20231  # Leiden's seed: a snapshot's rings do not vary between builds


@dataclass(frozen=True)
class RingFeature:
    name: str
    label: str  # Chinese, what a supervisor reads
    unit: str
    description: str


# A ring's own features (one row per ring in rings.parquet), declared once: the page, the reports and
# the ring score read them.
RING_FEATURES: tuple[RingFeature, ...] = (
    RingFeature("n_facilities", "成员机构数", "家", "Member facilities."),
    RingFeature("n_physicians", "成员医师数", "人", "Physicians who billed most of the shared cards' visits."),
    RingFeature("n_persons", "共用参保人数", "人", "Cards seen at two members on the same or the next day."),
    RingFeature("density", "关联密度", "比值", "Edges among the members over the pairs they could form."),
    RingFeature("burst_days", "集中就诊天数", "天",
                "Days on which at least BURST_PERSONS shared cards came to two members (summed over edges)."),
    RingFeature("trace_codes", "跨机构重复追溯码", "个", "Drug trace codes settled at two members."),
    RingFeature("pool_fund", "共用参保人基金支付", "元", "Fund payout of the shared cards' visits at the members."),
    RingFeature("inside_share", "团伙内支付占比", "%", "That payout over the members' whole payout."),
    RingFeature("growth", "近3月增长倍数", "比值",
                "The shared cards' monthly payout in the last 3 months over the window's monthly mean."),
)


def ring_params() -> dict[str, object]:
    """The thresholds `sql/edges.sql` names as parameters."""
    return {
        "ring_chronic_diagnoses": CHRONIC_DIAGNOSES,
        "ring_burst_persons": BURST_PERSONS,
        "ring_min_persons": MIN_PERSONS,
        "ring_min_codes": MIN_CODES,
    }


# The snapshot's files of rings (features/snapshot/build.py writes them) → the `Rings` field each holds.
RING_FILES = {"rings.parquet": "rings", "ring_edges.parquet": "edges", "ring_members.parquet": "members",
              "ring_evidence.parquet": "evidence"}


@dataclass
class Rings:
    rings: pd.DataFrame  # one row per ring: ring_id, facilities, physicians, RING_FEATURES
    edges: pd.DataFrame  # ring_id, kind (cards | trace), fac_a, fac_b, persons, burst_days, codes, fund_pay
    members: pd.DataFrame  # ring_id, kind (facility | physician), code, fixmedins_code, pool_visits, pool_fund
    evidence: pd.DataFrame  # ring_id, mdtrt_id, psn_no, fixmedins_code, atddr_no, visit_day, fund_pay
    facility: pd.DataFrame  # fixmedins_code + the registry's `rings` family, member facilities only

    @property
    def empty(self) -> bool:
        return self.rings.empty


def detect_rings(con: Any, params: dict[str, object]) -> Rings:
    """The window's rings on the build's connection (staging has run: stg_visit, win_fee, fac_tier)."""
    p = {**params, **ring_params()}
    run(con, (_SQL / "edges.sql").read_text(encoding="utf-8"), p)
    cards = query(con, "SELECT * FROM ring_card_edge").df()
    cards = cards[cards["burst_days"] >= MIN_BURST_DAYS]
    trace = query(con, "SELECT * FROM ring_trace_edge").df()
    edges = _edges(cards, trace)
    groups = _communities(edges[edges["kind"] == "cards"])
    if not groups:
        return _empty()
    ring_of = {fac: rid for rid, facs in groups.items() for fac in facs}
    edges["ring_id"] = [ring_of.get(a) if ring_of.get(a) == ring_of.get(b) else None
                        for a, b in zip(edges["fac_a"], edges["fac_b"], strict=True)]
    edges = edges.dropna(subset=["ring_id"]).reset_index(drop=True)
    pool = _pool(con, edges)
    evidence = _evidence(con, pool, ring_of)
    totals = query(con, "SELECT fixmedins_code, SUM(fund_pay) AS fund_pay FROM stg_visit WHERE in_win "
                        "GROUP BY fixmedins_code").df()
    totals = dict(zip(totals["fixmedins_code"], totals["fund_pay"].astype(float), strict=True))
    members = _members(evidence, ring_of)
    rings = _ring_table(groups, edges, pool, evidence, members, totals, pd.Timestamp(params["recent_start"]))
    return Rings(rings, edges, members, evidence, _facility_features(rings, members, totals))


def _edges(cards: pd.DataFrame, trace: pd.DataFrame) -> pd.DataFrame:
    """Card and trace edges in one frame, a weight each (shared cards, or trace codes)."""
    c = cards.assign(kind="cards", codes=0)
    t = trace.assign(kind="trace", persons=0, covisits=0, burst_days=0, most_in_a_day=0, fund_pay=0.0)
    cols = ["kind", "fac_a", "fac_b", "persons", "covisits", "burst_days", "most_in_a_day", "codes", "fund_pay"]
    out = pd.concat([c[cols], t[cols]], ignore_index=True)
    for col in ("persons", "covisits", "burst_days", "most_in_a_day", "codes"):
        out[col] = out[col].astype("int64")
    out["fund_pay"] = out["fund_pay"].astype(float)
    return out.sort_values(["kind", "fac_a", "fac_b"], ignore_index=True)


def _communities(edges: pd.DataFrame) -> dict[str, list[str]]:
    """ring id → its member facilities: Leiden communities (modularity, weighted by shared cards) of ≥ 2
    facilities. Trace edges form no ring of their own: a box resold at one pharmacy links it to every
    facility whose sales it bought back, which are the resale's sources, not its accomplices (the
    `trace_duplicate` rule reads the resale); between members they are the ring's evidence."""
    if edges.empty:
        return {}
    names = sorted(set(edges["fac_a"]) | set(edges["fac_b"]))
    index = {n: i for i, n in enumerate(names)}
    g = ig.Graph(n=len(names), edges=[(index[a], index[b]) for a, b in zip(edges["fac_a"], edges["fac_b"],
                                                                             strict=True)])
    g.es["weight"] = edges["persons"].astype(float).tolist()
    g.simplify(combine_edges="sum")
    part = leidenalg.find_partition(g, leidenalg.ModularityVertexPartition, weights="weight", seed=SEED)
    groups = {}
    for community in part:
        facs = sorted(names[i] for i in community)
        if len(facs) >= 2:
            groups[ring_id(facs)] = facs
    return dict(sorted(groups.items()))


def ring_id(facilities: list[str]) -> str:
    """A ring's id from its member facilities: the same members, the same id in every snapshot."""
    return "RG-" + hashlib.sha1(";".join(sorted(facilities)).encode()).hexdigest()[:8].upper()


def _pool(con: Any, edges: pd.DataFrame) -> pd.DataFrame:
    """(ring_id, psn_no): the cards seen at two members of a ring on the same or the next day."""
    pairs = edges.loc[edges["kind"] == "cards", ["ring_id", "fac_a", "fac_b"]].drop_duplicates()
    if pairs.empty:
        return pd.DataFrame({"ring_id": pd.Series(dtype=str), "psn_no": pd.Series(dtype=str)})
    con.register("ring_pair", pairs)
    return query(con, "SELECT DISTINCT p.ring_id, c.psn_no FROM ring_covisit AS c JOIN ring_pair AS p "
                      "ON p.fac_a = c.fac_a AND p.fac_b = c.fac_b ORDER BY p.ring_id, c.psn_no").df()


def _evidence(con: Any, pool: pd.DataFrame, ring_of: dict[str, str]) -> pd.DataFrame:
    """The pool's window visits at its ring's members: the claims to pull."""
    cols = ["ring_id", "mdtrt_id", "psn_no", "fixmedins_code", "atddr_no", "visit_day", "fund_pay"]
    if pool.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    facs = pd.DataFrame({"ring_id": list(ring_of.values()), "fixmedins_code": list(ring_of)})
    con.register("ring_pool", pool)
    con.register("ring_fac", facs)
    ev = query(con, """
        SELECT f.ring_id, v.mdtrt_id, v.psn_no, v.fixmedins_code, v.atddr_no, v.visit_day,
               CAST(v.fund_pay AS DOUBLE) AS fund_pay
        FROM stg_visit AS v
        JOIN ring_fac AS f ON f.fixmedins_code = v.fixmedins_code
        JOIN ring_pool AS p ON p.ring_id = f.ring_id AND p.psn_no = v.psn_no
        WHERE v.in_win
        ORDER BY f.ring_id, v.fixmedins_code, v.visit_day, v.mdtrt_id""").df()
    ev["visit_day"] = pd.to_datetime(ev["visit_day"])
    return ev[cols]


def _members(evidence: pd.DataFrame, ring_of: dict[str, str]) -> pd.DataFrame:
    """Member facilities (every one of the community) and physicians (who billed most of the pool)."""
    rows = []
    by_fac = evidence.groupby(["ring_id", "fixmedins_code"]) if not evidence.empty else None
    for fac, rid in sorted(ring_of.items()):
        visits = by_fac.get_group((rid, fac)) if by_fac is not None and (rid, fac) in by_fac.groups else None
        n = 0 if visits is None else len(visits)
        fund = 0.0 if visits is None else float(visits["fund_pay"].sum())
        rows.append({"ring_id": rid, "kind": "facility", "code": fac, "fixmedins_code": fac,
                     "pool_visits": n, "pool_fund": fund})
        if visits is None:
            continue
        for dr, grp in visits.dropna(subset=["atddr_no"]).groupby("atddr_no"):
            if len(grp) >= PHYSICIAN_MIN_VISITS and len(grp) >= PHYSICIAN_SHARE * n:
                rows.append({"ring_id": rid, "kind": "physician", "code": str(dr), "fixmedins_code": fac,
                             "pool_visits": len(grp), "pool_fund": float(grp["fund_pay"].sum())})
    return pd.DataFrame(rows, columns=["ring_id", "kind", "code", "fixmedins_code", "pool_visits", "pool_fund"])


def _ring_table(groups: dict[str, list[str]], edges: pd.DataFrame, pool: pd.DataFrame, evidence: pd.DataFrame,
                members: pd.DataFrame, totals: dict[str, float], recent_start: pd.Timestamp) -> pd.DataFrame:
    rows = []
    for rid, facs in groups.items():
        e = edges[edges["ring_id"] == rid]
        ev = evidence[evidence["ring_id"] == rid]
        drs = members[(members["ring_id"] == rid) & (members["kind"] == "physician")]["code"].tolist()
        n = len(facs)
        pairs = e[["fac_a", "fac_b"]].drop_duplicates()
        fund = float(ev["fund_pay"].sum())
        whole = sum(totals.get(f, 0.0) for f in facs)
        recent = float(ev.loc[ev["visit_day"] >= recent_start, "fund_pay"].sum())
        rows.append({
            "ring_id": rid, "facilities": ";".join(facs), "physicians": ";".join(sorted(drs)) or None,
            "n_facilities": n, "n_physicians": len(drs), "n_persons": int((pool["ring_id"] == rid).sum()),
            "density": len(pairs) / (n * (n - 1) / 2), "burst_days": int(e["burst_days"].sum()),
            "trace_codes": int(e["codes"].sum()), "pool_fund": fund,
            "inside_share": fund / whole if whole > 0 else 0.0,
            "growth": (recent / 3) / (fund / 12) if fund > 0 else 0.0,
        })
    return pd.DataFrame(rows, columns=["ring_id", "facilities", "physicians", *[f.name for f in RING_FEATURES]])


# The registry's `rings` family (features/snapshot/registry.py) for member facilities; a facility in no
# ring reads 0 in each (the build fills the family with zeros).
FACILITY_COLUMNS = ("ring_facilities", "ring_persons", "ring_pool_share", "ring_burst_days",
                    "ring_trace_codes", "ring_inside_share")


def _facility_features(rings: pd.DataFrame, members: pd.DataFrame, totals: dict[str, float]) -> pd.DataFrame:
    fac = members[members["kind"] == "facility"].merge(rings, on="ring_id", suffixes=("", "_ring"))
    own = np.array([totals.get(c, 0.0) for c in fac["fixmedins_code"]])
    out = pd.DataFrame({
        "fixmedins_code": fac["fixmedins_code"],
        "ring_facilities": fac["n_facilities"].astype(float),
        "ring_persons": fac["n_persons"].astype(float),
        "ring_pool_share": np.where(own > 0, fac["pool_fund"].to_numpy(float) / np.maximum(own, 1e-9), 0.0),
        "ring_burst_days": fac["burst_days"].astype(float),
        "ring_trace_codes": fac["trace_codes"].astype(float),
        "ring_inside_share": fac["inside_share"].astype(float),
    })
    return out.sort_values("fixmedins_code", ignore_index=True)


def _empty() -> Rings:
    """No ring: the same frames with no rows (typed, so either engine can register them)."""
    def frame(text: list[str], numbers: list[str]) -> pd.DataFrame:
        return pd.DataFrame({**{c: pd.Series(dtype=str) for c in text}, **{c: pd.Series(dtype=float) for c in numbers}})

    return Rings(
        frame(["ring_id", "facilities", "physicians"], [f.name for f in RING_FEATURES]),
        frame(["kind", "fac_a", "fac_b", "ring_id"],
              ["persons", "covisits", "burst_days", "most_in_a_day", "codes", "fund_pay"]),
        frame(["ring_id", "kind", "code", "fixmedins_code"], ["pool_visits", "pool_fund"]),
        frame(["ring_id", "mdtrt_id", "psn_no", "fixmedins_code", "atddr_no", "visit_day"], ["fund_pay"]),
        frame(["fixmedins_code"], list(FACILITY_COLUMNS)),
    )
