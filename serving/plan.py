"""Plan an inspection round: the pure logic (no I/O), so the service, the CLI and tests share it.

Facility level ranks eligible facilities by expected recovery (p_serious × amount if serious, the
yuan an inspection is worth on average); physician level ranks physicians by risk. Eligibility:
the filters (regions, types, levels, ownership), then two exclusions read from the inspection
history — a facility visited within `exclude_days` before `as_of`, and one whose latest inspection
within `clean_cooldown_days` recovered nothing ("clean": inspecting it again so soon teaches
little). Region caps bound how many targets one region takes. An `exploration_share` of the
capacity is drawn uniformly at random (seeded) among the eligible facilities the model did not pick,
so that future findings are not only where the model already looks. Same inputs and seed, same plan.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from feijian.errors import InputError
from serving.schemas import MAX_CAPACITY, PlanLevel, PlanRequest

# The request model declares the planning defaults; plan_round's keywords take them from it.
_DEFAULT = PlanRequest()
FACILITY_COLUMNS = ["rank", "fixmedins_code", "name", "admdvs", "fixmedins_type", "hosp_lv", "ownership",
                    "p_serious", "expected_recovery", "pick", "top_reasons"]  # fmt: skip
PHYSICIAN_COLUMNS = ["rank", "dr_code", "fixmedins_code", "dept", "admdvs", "p_risk", "pick", "top_reasons"]
EXCLUSION_ZH = {
    "filtered": "不符合筛选条件",
    "recently_inspected": "近期已检查",
    "clean_cooldown": "近期检查未发现问题（冷却期内）",
    "region_cap": "所在地区已达名额上限",
}


class PlanInputError(InputError):
    """A planning parameter or input table is invalid."""


@dataclass
class Plan:
    targets: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)


def _check(scored: pd.DataFrame, capacity: Any, share: float, level: str, exclude_days: int, cooldown: int) -> None:
    if level not in ("facility", "physician"):
        raise PlanInputError(f"level must be one of: facility, physician; got {level!r}")
    if isinstance(capacity, bool) or not isinstance(capacity, int | np.integer):
        raise PlanInputError(f"capacity must be a whole number between 1 and {MAX_CAPACITY}; got {capacity!r}")
    if not 1 <= capacity <= MAX_CAPACITY:
        raise PlanInputError(f"capacity must be between 1 and {MAX_CAPACITY}; got {capacity}")
    if not 0.0 <= float(share) <= 0.5:
        raise PlanInputError(f"exploration_share must be between 0 and 0.5; got {share!r}")
    if exclude_days < 0 or cooldown < 0:
        raise PlanInputError(f"exclude_days and clean_cooldown_days must be ≥ 0; got {exclude_days}, {cooldown}")
    need = ["fixmedins_code", "expected_recovery"] if level == "facility" else ["dr_code", "fixmedins_code", "p_risk"]
    missing = [c for c in need if c not in scored.columns]
    if missing:
        raise PlanInputError(f"scored table lacks column(s) {missing} needed for a {level} plan")


def _filter(frame: pd.DataFrame, column: str, wanted: list[str] | None, what: str) -> pd.Series:
    if not wanted:
        return pd.Series(True, index=frame.index)
    if column not in frame.columns:
        raise PlanInputError(f"cannot filter by {what}: the scored table has no column {column!r}")
    have = set(frame[column].astype(str))
    unknown = sorted(set(map(str, wanted)) - have)
    if unknown:
        raise PlanInputError(f"unknown {what} {unknown}; known: {sorted(have)}")
    return frame[column].astype(str).isin([str(w) for w in wanted])


def exclusion_sets(
    inspections: pd.DataFrame, as_of: date, exclude_days: int, cooldown: int
) -> tuple[set[str], set[str]]:
    """(recently inspected, clean within the cool-down) facility codes, from visits before as_of."""
    if inspections is None or inspections.empty:
        return set(), set()
    for c in ("fixmedins_code", "insp_date"):
        if c not in inspections.columns:
            raise PlanInputError(f"inspections table lacks column {c!r}")
    day = pd.to_datetime(inspections["insp_date"]).to_numpy(dtype="datetime64[D]")
    recovered = pd.to_numeric(inspections.get("amount_recovered", 0.0), errors="coerce")
    last = pd.DataFrame(
        {
            "code": inspections["fixmedins_code"].astype(str).to_numpy(dtype=object),
            "day": day,
            "recovered": np.nan_to_num(np.broadcast_to(np.asarray(recovered, dtype=float), day.shape)),
        }
    )
    last = last[last["day"] < np.datetime64(as_of)].sort_values("day", kind="mergesort")
    last = last.drop_duplicates("code", keep="last")  # each facility's latest visit before as_of
    recent = set(last.loc[last["day"] >= np.datetime64(as_of - timedelta(days=exclude_days)), "code"])
    clean = last[(last["recovered"] <= 0) & (last["day"] >= np.datetime64(as_of - timedelta(days=cooldown)))]
    return recent, set(clean["code"]) - recent


@dataclass(frozen=True)
class _Ranking:
    order: np.ndarray  # row positions by score (descending), then key
    codes: list[str]  # facility code per row, as text
    regions: list[str]  # region per row, as text ("" without a region column)


_RANKINGS: dict[tuple[int, str, str], tuple[pd.DataFrame, _Ranking]] = {}


def _ranked(scored: pd.DataFrame, score_col: str, key: str) -> _Ranking:
    """The scored table's rank order and text columns, computed once per table (a service plans from
    the same table all day). A stable sort of all rows, then filtered, gives the same order as
    sorting the eligible rows each time."""
    slot = (id(scored), score_col, key)
    hit = _RANKINGS.get(slot)
    if hit is not None and hit[0] is scored:
        return hit[1]
    frame = scored.reset_index(drop=True)
    order = frame.sort_values([score_col, key], ascending=[False, True], kind="mergesort").index.to_numpy()
    regions = frame["admdvs"].astype(str).tolist() if "admdvs" in frame.columns else [""] * len(frame)
    ranking = _Ranking(order, frame["fixmedins_code"].astype(str).tolist(), regions)
    if len(_RANKINGS) >= 8:
        _RANKINGS.clear()
    _RANKINGS[slot] = (scored, ranking)  # the table is held, so its id is not reused while cached
    return ranking


def plan_round(
    scored: pd.DataFrame,
    inspections: pd.DataFrame,
    as_of: date,
    capacity: int,
    *,
    regions: list[str] | None = None,
    types: list[str] | None = None,
    levels: list[str] | None = None,
    ownership: list[str] | None = None,
    exclude_days: int = _DEFAULT.exclude_days,
    clean_cooldown_days: int = _DEFAULT.clean_cooldown_days,
    region_caps: dict[str, int] | None = None,
    exploration_share: float = _DEFAULT.exploration_share,
    seed: int = _DEFAULT.seed,
    level: PlanLevel = _DEFAULT.level,
    excluded: tuple[Set[str], Set[str]] | None = None,
) -> Plan:
    """Pick up to `capacity` targets; `targets` in rank order, model picks first, then exploration picks.

    `excluded` is `exclusion_sets(inspections, as_of, exclude_days, clean_cooldown_days)` computed
    beforehand (the service keeps it per findings change); `inspections` is then not read."""
    _check(scored, capacity, exploration_share, level, exclude_days, clean_cooldown_days)
    caps = {str(k): int(v) for k, v in (region_caps or {}).items()}
    if any(v < 0 for v in caps.values()):
        raise PlanInputError(f"region caps must be ≥ 0; got {caps}")
    score_col = "expected_recovery" if level == "facility" else "p_risk"
    key = "fixmedins_code" if level == "facility" else "dr_code"
    frame = scored.reset_index(drop=True)
    keep = (
        _filter(frame, "admdvs", regions, "regions")
        & _filter(frame, "fixmedins_type", types, "types")
        & _filter(frame, "hosp_lv", levels, "levels")
        & _filter(frame, "ownership", ownership, "ownership")
    )
    if excluded is None:
        excluded = exclusion_sets(inspections, as_of, exclude_days, clean_cooldown_days)
    recent, clean = excluded
    ranked = _ranked(scored, score_col, key)
    keep_np = keep.to_numpy(dtype=bool)
    is_recent = keep_np & np.fromiter((c in recent for c in ranked.codes), bool, len(ranked.codes))
    is_clean = keep_np & np.fromiter((c in clean for c in ranked.codes), bool, len(ranked.codes))
    ok = keep_np & ~is_recent & ~is_clean
    eligible = ranked.order[ok[ranked.order]].tolist()  # positions, best first (the ranking is computed once)

    n_explore = round(capacity * exploration_share)
    taken: dict[str, int] = {}
    capped: set[int] = set()
    region_of = ranked.regions

    def fits(i: int) -> bool:
        region = region_of[i]
        if region in caps and taken.get(region, 0) >= caps[region]:
            capped.add(i)
            return False
        taken[region] = taken.get(region, 0) + 1
        return True

    model_picks: list[int] = []
    for i in eligible:
        if len(model_picks) >= capacity - n_explore:
            break
        if fits(i):
            model_picks.append(i)
    picked = set(model_picks)
    rest = [i for i in eligible if i not in picked]
    rng = np.random.default_rng(seed)
    explore: list[int] = []
    for i in rng.permutation(np.asarray(rest, dtype=int)).tolist() if rest else []:
        if len(explore) >= capacity - len(model_picks):
            break
        if fits(i):
            explore.append(i)
            capped.discard(i)

    picks = frame.iloc[model_picks + explore].copy()
    picks["pick"] = ["model"] * len(model_picks) + ["exploration"] * len(explore)
    picks["rank"] = np.arange(1, len(picks) + 1)
    if level == "facility":
        picks["name"] = picks.get("fixmedins_name", picks["fixmedins_code"])
        columns = FACILITY_COLUMNS
    else:
        columns = PHYSICIAN_COLUMNS
    for c in columns:
        if c not in picks.columns:
            picks[c] = None
    targets = picks[columns].reset_index(drop=True)
    excluded = {
        "filtered": int((~keep).sum()),
        "recently_inspected": int(is_recent.sum()),
        "clean_cooldown": int(is_clean.sum()),
        "region_cap": len(capped - set(model_picks) - set(explore)),
    }
    meta = {
        "level": level,
        "as_of": as_of.isoformat(),
        "capacity": capacity,
        "n_targets": len(targets),
        "n_candidates": len(frame),
        "n_eligible": len(eligible),
        "filters": {"regions": regions, "types": types, "levels": levels, "ownership": ownership},
        "exclude_days": exclude_days,
        "clean_cooldown_days": clean_cooldown_days,
        "region_caps": caps,
        "exclusions": excluded,
        "exclusions_zh": {EXCLUSION_ZH[k]: v for k, v in excluded.items()},
        "exploration": {"share": exploration_share, "seed": seed, "n": len(explore)},
        "expected_total": float(picks["expected_recovery"].sum()) if "expected_recovery" in picks else None,
        "model_version": scored.attrs.get("model_version"),
        "snapshot_id": scored.attrs.get("snapshot_id"),
    }
    return Plan(targets=targets, meta=meta)
