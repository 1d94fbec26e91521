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

import json
from collections.abc import Set
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from features.schema import AGREEMENT_ACTION
from feijian.errors import InputError
from serving.schemas import MAX_CAPACITY, PlanLevel, PlanRequest
from training.physician_rank import EXPOSURE, PHYSICIAN_RANKING_ZH

# The request model declares the planning defaults; plan_round's keywords take them from it.
_DEFAULT = PlanRequest()
FACILITY_COLUMNS = ["rank", "fixmedins_code", "name", "admdvs", "admdvs_name", "fixmedins_type", "hosp_lv",
                    "ownership", "p_serious", "expected_recovery", "pick", "pick_probability", "flag",
                    "ring_id", "top_reasons"]  # fmt: skip
PHYSICIAN_COLUMNS = ["rank", "dr_code", "fixmedins_code", "name", "dept", "admdvs", "admdvs_name", EXPOSURE,
                     "p_risk", "pick", "pick_probability", "flag", "top_reasons"]  # fmt: skip
# The ranking rule each level's plan follows, as the page, the reports and the terminal state it.
RANKING_ZH = {"facility": "按预计追回金额排序（严重问题概率 × 发现严重问题时的预计追回金额）",
              "physician": PHYSICIAN_RANKING_ZH}  # fmt: skip
# Agreement sanctions a plan acts on (features/schema.py AGREEMENT_ACTION codes): a terminated agreement
# at any inspection before the round, a suspension at the facility's latest one. What the plan does with
# each ("exclude" or "flag") is the request's (PlanRequest.on_terminated / on_suspended).
SANCTIONS = ("terminate", "suspend")
PROBABILITY_DRAWS = 4_000  # replays of the exploration draw that estimate pick probabilities under region caps
EXCLUSION_ZH = {
    "filtered": "不符合筛选条件",
    "recently_inspected": "近期已检查",
    "clean_cooldown": "近期检查未发现问题（冷却期内）",
    "region_cap": "所在地区已达名额上限",
    "sanctioned": "已被解除或暂停医保服务协议（按计划规则排除）",
}


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame as JSON-ready dicts, as the API sends tables (ISO dates, 15 significant digits)."""
    return json.loads(frame.to_json(orient="records", force_ascii=False, date_format="iso", double_precision=15))


class PlanInputError(InputError):
    """A planning parameter or input table is invalid."""


@dataclass(frozen=True)
class _Ranking:
    order: np.ndarray  # row positions by score (descending), then key
    codes: list[str]  # facility code per row, as text
    regions: list[str]  # region per row, as text ("" without a region column)
    shown: pd.DataFrame  # the rows with only the columns a plan shows (taking 50 rows of ~100 columns costs)

    @cached_property
    def records(self) -> list[dict[str, Any]]:
        """Every row of `shown` as JSON-ready values (pandas' JSON writer), made once per scored table:
        a plan's records are then a selection, with no pandas on the service's hot path."""
        return frame_records(self.shown)


@dataclass
class Plan:
    """The targets in rank order (model picks, then exploration picks) and what the plan was made of.

    `targets` (a DataFrame, for reports and the terminal) and `records()` (JSON-ready dicts, for the
    API) are two views of the same picks."""

    meta: dict[str, Any]
    level: PlanLevel
    positions: list[int]  # rows of the scored table, in plan order
    n_model: int  # the first n_model are model picks, the rest exploration picks
    probabilities: list[float]  # per pick, the probability that the policy picks it (see pick_probabilities)
    ranking: _Ranking = field(repr=False)
    flags: list[str | None] = field(default_factory=list)  # per pick, a sanction to know before the visit
    ring_ids: list[str | None] = field(default_factory=list)  # per pick, the ring it is inspected jointly with

    @property
    def columns(self) -> list[str]:
        return FACILITY_COLUMNS if self.level == "facility" else PHYSICIAN_COLUMNS

    def _picks(self) -> list[str]:
        return ["model"] * self.n_model + ["exploration"] * (len(self.positions) - self.n_model)

    @cached_property
    def targets(self) -> pd.DataFrame:
        picks = self.ranking.shown.iloc[self.positions].copy()
        picks["pick"] = self._picks()
        picks["rank"] = np.arange(1, len(picks) + 1)
        picks["pick_probability"] = self.probabilities
        picks["flag"] = self.flags or [None] * len(picks)
        picks["ring_id"] = self.ring_ids or [None] * len(picks)
        picks["name"] = picks.get("fixmedins_name", picks["fixmedins_code"])
        for c in self.columns:
            if c not in picks.columns:
                picks[c] = None
        return picks[self.columns].reset_index(drop=True)

    def records(self) -> list[dict[str, Any]]:
        """The targets as JSON-ready dicts (the same values as `targets`), in the same column order."""
        rows, out = self.ranking.records, []
        flags = self.flags or [None] * len(self.positions)
        rings = self.ring_ids or [None] * len(self.positions)
        picked = zip(self.positions, self._picks(), self.probabilities, flags, rings, strict=True)
        for rank, (i, pick, probability, flag, ring) in enumerate(picked, start=1):
            row = rows[i]
            name = row.get("fixmedins_name", row.get("fixmedins_code"))
            given = {"rank": rank, "pick": pick, "pick_probability": probability, "name": name, "flag": flag,
                     "ring_id": ring}
            out.append({c: given[c] if c in given else row.get(c) for c in self.columns})
        return out


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
    need = ["fixmedins_code", "expected_recovery"] if level == "facility" else ["dr_code", "fixmedins_code", EXPOSURE]
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


def sanctioned(inspections: pd.DataFrame | None, as_of: date) -> dict[str, str]:
    """Facility code → the sanction in force before as_of: "terminate" (at any earlier inspection) or
    "suspend" (at its latest one). Inspections visited on or after as_of do not count."""
    if inspections is None or inspections.empty or "agreement_action" not in inspections.columns:
        return {}
    key = (id(inspections), as_of)
    hit = _SANCTIONS.get(key)
    if hit is not None and hit[0] is inspections:
        return hit[1]
    day = pd.to_datetime(inspections["insp_date"]).dt.date
    past = inspections.assign(_day=day)[day < as_of].sort_values("_day", kind="mergesort")
    action = past["agreement_action"].astype(str)
    code = past["fixmedins_code"].astype(str)
    out = {c: "suspend" for c, a in zip(code.groupby(code).tail(1), action.groupby(code).tail(1), strict=True)
           if a == "suspend"}  # fmt: skip
    out.update({c: "terminate" for c in code[action == "terminate"]})
    if len(_SANCTIONS) >= 8:
        _SANCTIONS.clear()
    _SANCTIONS[key] = (inspections, out)  # held, so the id is not reused while cached
    return out


_SANCTIONS: dict[tuple[int, date], tuple[pd.DataFrame, dict[str, str]]] = {}
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
    # ties in the score are broken by the risk (strictly increasing in the model's raw score), only then by code
    risk = next((c for c in ("p_serious", "p_risk") if c in frame.columns and c != score_col), None)
    by = [score_col, *([risk] if risk else []), key]
    order = frame.sort_values(by, ascending=[False] * (len(by) - 1) + [True], kind="mergesort").index.to_numpy()
    regions = frame["admdvs"].astype(str).tolist() if "admdvs" in frame.columns else [""] * len(frame)
    wanted = [*FACILITY_COLUMNS, *PHYSICIAN_COLUMNS, "fixmedins_name"]
    shown = frame[[c for c in dict.fromkeys(wanted) if c in frame.columns]]
    ranking = _Ranking(order, frame["fixmedins_code"].astype(str).tolist(), regions, shown)
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
    sanctions: dict[str, str] | None = None,
    rings: list[tuple[str, dict[str, float]]] | None = None,
    joint_rings: bool = False,
) -> Plan:
    """Pick up to `capacity` targets; `targets` in rank order, model picks first, then exploration picks.

    `excluded` is `exclusion_sets(inspections, as_of, exclude_days, clean_cooldown_days)` computed
    beforehand (the service keeps it per findings change). `sanctions` says, per sanction in force
    (`SANCTIONS`), whether its facilities are excluded or planned with a flag (default: a terminated
    agreement excluded, a suspended one flagged); they are read from `inspections` (`sanctioned`).

    `rings` (ring id, member facility code → the member's value inspected with its ring, serving.rings)
    mark each planned member with its ring (facility level), and `meta["rings"]` lists the rings with a
    member planned and those left out. With `joint_rings` they are also joint inspections: a ring whose
    eligible members not yet picked are worth more on average than the next facility alone is taken
    whole, each member counting against the capacity (`_model_picks`)."""
    _check(scored, capacity, exploration_share, level, exclude_days, clean_cooldown_days)
    caps = {str(k): int(v) for k, v in (region_caps or {}).items()}
    if any(v < 0 for v in caps.values()):
        raise PlanInputError(f"region caps must be ≥ 0; got {caps}")
    score_col = "expected_recovery" if level == "facility" else EXPOSURE
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
    policy = {**_DEFAULT.plan_kwargs()["sanctions"], **(sanctions or {})}
    if set(policy) - set(SANCTIONS) or set(policy.values()) - {"exclude", "flag"}:
        raise PlanInputError(f"sanctions must map {SANCTIONS} to 'exclude' or 'flag'; got {policy}")
    in_force = sanctioned(inspections, as_of)
    barred = {c for c, a in in_force.items() if policy[a] == "exclude"}
    in_barred = np.fromiter((c in barred for c in ranked.codes), bool, len(ranked.codes))
    is_barred = keep_np & ~is_recent & ~is_clean & in_barred
    ok = keep_np & ~is_recent & ~is_clean & ~is_barred
    eligible = ranked.order[ok[ranked.order]].tolist()  # positions, best first (the ranking is computed once)

    n_explore = round(capacity * exploration_share)
    regions_of = ranked.regions
    taken: dict[str, int] = {}
    capped: set[int] = set()
    value = np.asarray(ranked.shown[score_col], dtype=float)
    units = _ring_units(rings if level == "facility" else None, eligible, ranked.codes)
    model_picks, joint = _model_picks(eligible, units if joint_rings else [], value, capacity - n_explore,
                                      regions_of, caps, taken, capped)
    picked = set(model_picks)
    rest = [i for i in eligible if i not in picked]
    slots = capacity - len(model_picks)
    after_model = dict(taken)
    explore = _draw(np.random.default_rng(seed), rest, slots, regions_of, caps, taken, capped)
    probabilities, method = pick_probabilities(rest, explore, slots, regions_of, caps, after_model, seed)
    positions = model_picks + explore
    excluded = {
        "filtered": int((~keep).sum()),
        "recently_inspected": int(is_recent.sum()),
        "clean_cooldown": int(is_clean.sum()),
        "region_cap": len(capped - set(model_picks) - set(explore)),
        "sanctioned": int(np.sum(is_barred)),
    }
    meta = {
        "level": level,
        "as_of": as_of.isoformat(),
        "capacity": capacity,
        "n_targets": len(positions),
        "n_candidates": len(frame),
        "n_eligible": len(eligible),
        "filters": {"regions": regions, "types": types, "levels": levels, "ownership": ownership},
        "exclude_days": exclude_days,
        "clean_cooldown_days": clean_cooldown_days,
        "region_caps": caps,
        "exclusions": excluded,
        "exclusions_zh": {EXCLUSION_ZH[k]: v for k, v in excluded.items()},
        "sanctions": policy,
        "ranking_zh": RANKING_ZH[level],
        "exploration": {"share": exploration_share, "seed": seed, "n": len(explore)},
        "expected_total": float(np.asarray(ranked.shown["expected_recovery"], dtype=float)[positions].sum())
        if "expected_recovery" in ranked.shown
        else None,
        "model_version": scored.attrs.get("model_version"),
        "snapshot_id": scored.attrs.get("snapshot_id"),
    }
    meta["pick_probability"] = {"model": 1.0, "exploration": method}
    meta["rings"] = _planned_rings(units, positions, set(joint.values()), ranked.codes)
    ring_of = {i: r for r, members in units for i in members}
    flags = [_flag(in_force.get(ranked.codes[i])) for i in positions]
    meta["n_flagged"] = sum(f is not None for f in flags)
    return Plan(meta, level, positions, len(model_picks), [1.0] * len(model_picks) + probabilities, ranked, flags,
                [ring_of.get(i) for i in positions])


def _planned_rings(units: list[tuple[str, dict[int, float]]], positions: list[int], joint: set[str],
                   codes: list[str]) -> list[dict[str, Any]]:
    """Each ring with a member in the plan: the members planned and those not, whether it was taken as
    one joint inspection, and the planned members' value inspected with their ring."""
    planned = set(positions)
    out = []
    for ring_id, members in units:
        inside = [i for i in positions if i in members]
        if inside:
            out.append({"ring_id": ring_id, "facilities": [codes[i] for i in inside],
                        "not_planned": [codes[i] for i in members if i not in planned], "joint": ring_id in joint,
                        "expected_recovery": float(sum(members[i] for i in inside))})
    return out


def _ring_units(rings: list[tuple[str, dict[str, float]]] | None, eligible: list[int], codes: list[str]
                ) -> list[tuple[str, dict[int, float]]]:
    """Each ring as its eligible members' positions → value, best first (a ring with fewer than two
    eligible members is no joint inspection: its one member stands alone)."""
    if not rings:
        return []
    rank = {i: k for k, i in enumerate(eligible)}
    at = {codes[i]: i for i in eligible}
    out = []
    for ring_id, members in rings:
        rows = sorted((at[c] for c in members if c in at), key=rank.__getitem__)
        if len(rows) >= 2:
            out.append((ring_id, {i: float(members[codes[i]]) for i in rows}))
    return out


def _model_picks(eligible: list[int], units: list[tuple[str, dict[int, float]]], value: np.ndarray, slots: int,
                 regions_of: list[str], caps: dict[str, int], taken: dict[str, int], capped: set[int]
                 ) -> tuple[list[int], dict[int, str]]:
    """The model's picks, best value per slot first: facilities alone (their value) and rings (the mean
    value, inspected with the ring, of their members not yet picked; all of them taken together when they
    fit). Without rings this is the eligible list in rank order. Returns the picks and, for a ring's
    members, the ring id."""
    picks: list[int] = []
    ring_of: dict[int, str] = {}
    picked: set[int] = set()
    pending = list(units)
    k = 0
    while len(picks) < slots and (k < len(eligible) or pending):
        while k < len(eligible) and eligible[k] in picked:
            k += 1
        alone = value[eligible[k]] if k < len(eligible) else -np.inf
        best, best_mean = None, alone
        for unit in pending:
            rest = [i for i in unit[1] if i not in picked]
            mean = float(np.mean([unit[1][i] for i in rest])) if len(rest) >= 2 else -np.inf
            if mean > best_mean:
                best, best_mean = unit, mean
        if best is not None:
            pending.remove(best)
            rest = [i for i in best[1] if i not in picked]
            trial = dict(taken)
            if len(picks) + len(rest) <= slots and all(_fits(i, regions_of, caps, trial) for i in rest):
                taken.update(trial)
                picks.extend(rest)
                picked.update(rest)
                ring_of.update(dict.fromkeys(best[1], best[0]))  # those picked before it are visited with it
            continue
        if k >= len(eligible):
            break
        i = eligible[k]
        k += 1
        if _fits(i, regions_of, caps, taken, capped):
            picks.append(i)
            picked.add(i)
    return picks, ring_of


def _flag(action: str | None) -> str | None:
    return None if action is None else f"已{AGREEMENT_ACTION[action]}"


def _fits(i: int, regions_of: list[str], caps: dict[str, int], taken: dict[str, int],
          capped: set[int] | None = None) -> bool:
    """Take row i if its region is under its cap (counting it in `taken`); else note it in `capped`."""
    region = regions_of[i]
    if region in caps and taken.get(region, 0) >= caps[region]:
        if capped is not None:
            capped.add(i)
        return False
    taken[region] = taken.get(region, 0) + 1
    return True


def _draw(rng: np.random.Generator, rest: list[int], slots: int, regions_of: list[str], caps: dict[str, int],
          taken: dict[str, int], capped: set[int] | None = None) -> list[int]:
    """The exploration picks: `rest` in a random order, each taken while slots remain and its region fits."""
    explore: list[int] = []
    for i in rng.permutation(np.asarray(rest, dtype=int)).tolist() if rest else []:
        if len(explore) >= slots:
            break
        if _fits(i, regions_of, caps, taken, capped):
            explore.append(i)
            if capped is not None:
                capped.discard(i)
    return explore


def pick_probabilities(rest: list[int], explore: list[int], slots: int, regions_of: list[str],
                       caps: dict[str, int], taken: dict[str, int], seed: int) -> tuple[list[float], str]:
    """The probability that the exploration draw picks each of `explore`, and how it was found.

    When no region cap can turn a facility away, the draw is a uniform sample of `slots` among `rest`:
    each has probability slots / len(rest), exactly. Otherwise the draw is replayed PROBABILITY_DRAWS
    times from the same starting counts (seeded, so the same plan gives the same figures) and each
    facility's share of replays that pick it is its estimate. (Model picks are deterministic inside
    capacity: probability 1.)"""
    if not explore:
        return [], "exact"
    in_rest: dict[str, int] = {}
    for i in rest:
        in_rest[regions_of[i]] = in_rest.get(regions_of[i], 0) + 1
    binding = any(r in caps and taken.get(r, 0) + min(slots, n) > caps[r] for r, n in in_rest.items())
    if not binding:
        return [min(slots, len(rest)) / len(rest)] * len(explore), "exact"
    counts = dict.fromkeys(explore, 0)
    rng = np.random.default_rng([seed, 1])
    for _ in range(PROBABILITY_DRAWS):
        for i in _draw(rng, rest, slots, regions_of, caps, dict(taken)):
            if i in counts:
                counts[i] += 1
    return [counts[i] / PROBABILITY_DRAWS for i in explore], f"estimated ({PROBABILITY_DRAWS} draws)"
