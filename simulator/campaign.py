"""A province that steps month by month and answers the inspection rounds someone else plans.

`advance(m)` simulates every month before m and (re)writes the export as of the first day of m:
the claims parts exactly as `simulate` writes them, the reference tables of what is registered by
then and the findings of the inspections carried out before it, so `feijian ingest out/input`
sees what a bureau would export that day. `inspect(m, picks)` carries out the round planned on
that day with the simulator's finding model (depth by inspection type, partial recovery, minor
findings, physicians' points, deterrence after a serious finding). The choosers give the picks of
reference policies: the bureau's historical selection, the oracle (it reads truth: evaluation's
side only) and random. `simulator.engine.run` is this loop with the historical chooser:

    with Province(out, seed=7, scale="demo") as p:
        for m in p.round_months:
            p.advance(m)                 # out/input is the export as of month m
            p.inspect(m, policy(m))      # [(fixmedins_code, selection), …]
        p.finish()                       # the remaining months, truth/, meta.json

Inspection outcomes draw from a generator of (seed, month): the historical picks continue the
stream their selection drew from (so `run` is unchanged), any other picks start a fresh one, and
the same picks on the same province give the same findings.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from features.schema import SELECTION, TABLES
from feijian.errors import InputError, NotReadyError
from simulator.behaviours import plan_schemes
from simulator.behaviours.mechanisms import registry
from simulator.config import (
    EPOCH,
    N_MONTHS,
    NEXT_ROUND_DATE,
    day_of,
    export_end_day,
    month_first_day,
    month_label,
    month_of_day,
    parse_scale,
)
from simulator.evasion import Evasion, parse_evasion
from simulator.frame import Frame
from simulator.inspections import ROUND_MONTHS, historical_picks, inspect_picks
from simulator.month import generate_month
from simulator.reference import reference_tables
from simulator.rings import parse_rings, plan_rings, plant
from simulator.settle import settle_month
from simulator.truth import TruthRecorder
from simulator.world import build_world, initial_state
from simulator.writer import BackgroundWriter, to_table, write

Progress = Callable[[int, int], None]
Pick = tuple[str, str]  # (fixmedins_code, selection)
_DATES = ("insp_date", "period_begn", "period_end")


class Province:
    """The synthetic province of `simulate`, simulated up to `month` (exclusive) so far."""

    round_months = ROUND_MONTHS

    def __init__(self, out: Path, seed: int = 7, scale: str | int = "demo", evasion: str | Evasion = "normal",
                 progress: Progress | None = None, answers: bool = False, rings: str = "planted") -> None:
        """`answers`: keep what `answer` needs (each month's fraudulent ids, in memory) for a campaign's
        inspectors; `simulate` does not. `rings`: "planted" (collusion rings and honest look-alikes,
        simulator.rings) or "none" (the province as it was before rings, byte for byte)."""
        self._t0 = time.perf_counter()
        self.out, self.seed = Path(out), seed
        self.scale = parse_scale(scale)
        self.evasion = parse_evasion(evasion)
        self.rings = parse_rings(rings)
        self.world = build_world(self.scale, seed)
        self.schemes = plan_schemes(self.world, np.random.default_rng([seed, 2]), self.evasion)
        if self.rings == "planted":  # rows appended after the ordinary schemes, from a generator of their own
            self.schemes = plant(self.schemes, plan_rings(self.world, seed, busy=self.schemes.fac))
        self.state = initial_state(self.world, np.random.default_rng([seed, 5]))
        self.input, truth = self.out / "input", self.out / "truth"
        for d in (self.input, truth):
            if d.exists():
                shutil.rmtree(d)
        self.input.mkdir(parents=True)
        self._truth = TruthRecorder(self.world, truth, keep_ids=answers)
        self._reg = registry()
        self._progress = progress
        self.counts = {"mdtrt_d": 0, "setl_d": 0, "fee_list_d": 0}
        self.month = 0  # months 0 … month − 1 are simulated
        self._insp: list[dict] = []  # exported inspections so far, dates as day numbers (reference.py's form)
        self._n_inspected = 0  # every inspection so far, exported or not (their ids count on)
        self._points: list[dict] = []
        self._history: list[dict] = []
        self._rounds: dict[int, int] = {}  # month → inspect() calls made in it
        self._index = {c: i for i, c in enumerate(self.world.fac.code)}
        self._writer = BackgroundWriter()
        self._settler = ThreadPoolExecutor(max_workers=1, thread_name_prefix="settle")
        self._pending: Future | None = None
        self._closed = False

    # -- stepping ---------------------------------------------------------------------------------

    def advance(self, to_month: int, export: bool = True) -> None:
        """Simulate the months before `to_month` not yet simulated; with `export`, (re)write the
        reference and inspection tables as of its first day (the claims parts are always written)."""
        self._open()
        if not self.month <= to_month <= N_MONTHS:
            raise InputError(f"advance({to_month}): months {self.month}–{N_MONTHS} are possible "
                             f"({month_label(self.month)} is next to simulate; months cannot be undone)")
        try:
            for m in range(self.month, to_month):
                rng = np.random.default_rng([self.seed, 3, m])
                v, ln = generate_month(self.world, self.state, self.schemes, self._reg, m, rng)
                if self._pending is not None:
                    self._pending.result()
                # Month m is settled while month m + 1 is generated: settling touches only the id
                # counters and the money aggregates (st.taken, st.fund, st.n_visits), which nothing reads
                # before a round or a chooser waits for it (_settled); `rng` is month m's alone.
                self._pending = self._settler.submit(self._finish_month, m, v, ln, rng)
                self.month = m + 1
            self._settled()
            if export:
                self._writer.flush()
                self._write_references(None if self.month == N_MONTHS else month_first_day(self.month))
        except BaseException:
            self.close()
            raise

    def inspect(self, m: int, picks: Sequence[Pick], exported: bool = True,
                back_months: int | None = None) -> tuple[list[dict], list[dict]]:
        """Inspect `picks` in the round planned on the first day of month m (the month `advance`
        reached); returns (inspections rows, insp_dr_points rows) in the input contract's columns.

        `exported=False` keeps the findings out of the export's inspections tables (a campaign records
        them through the service's path instead); the visits still count for deterrence and for the
        historical chooser's exclusions. `back_months` fixes the period checked (default: 12, 18 or
        24 months drawn per visit), e.g. to the window a planned round's features read."""
        chosen = self._resolve(m, picks)
        k = self._rounds.get(m, 0)  # a second batch in the same month draws from a stream of its own
        hist, after = self._historical(m) if k == 0 else (None, None)
        rng = after if after is not None and chosen == hist else np.random.default_rng([self.seed, 4, m, k])
        self._rounds[m] = k + 1
        rows, pts = inspect_picks(self.world, self.state, self.schemes, m, chosen, self._n_inspected, self._history,
                                  rng, back_months)  # fmt: skip
        self._n_inspected += len(rows)
        if exported:
            self._insp += rows
            self._points += pts
        return [_contract_row(r) for r in rows], [dict(p) for p in pts]

    def finish(self) -> dict:
        """Simulate the remaining months, write the final export, truth/ and meta.json; returns counts,
        seconds and the paths written (what `simulate` returns)."""
        self.advance(N_MONTHS, export=False)
        self.close()
        self._write_references(None)
        truth_counts = self._truth.finish(self.state, self.schemes, with_evasion=not self.evasion.plain)
        seconds = time.perf_counter() - self._t0
        sc = self.scale
        meta = {
            "seed": self.seed, "scale": sc.name, "n_facilities": sc.n_facilities, "n_persons": sc.persons,
            "first_month": month_label(0), "last_month": month_label(N_MONTHS - 1),
            "export_end": str(np.datetime64(export_end_day(), "D")), "next_round_date": NEXT_ROUND_DATE.isoformat(),
            "inspection_capacity": sc.capacity, "counts": dict(sorted(self.counts.items())),
        }
        if not self.evasion.plain:  # the normal province's meta.json stays as it was
            meta["evasion"] = self.evasion.name
        if self.schemes.rings is not None:  # … and so does one without rings
            meta["rings"] = self.rings
        (self.out / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return {"counts": self.counts, "truth_counts": truth_counts, "seconds": seconds, "input": str(self.input),
                "truth": str(self.out / "truth"), "meta": str(self.out / "meta.json"),
                "fee_lines_per_second": self.counts["fee_list_d"] / max(seconds, 1e-9)}

    def close(self) -> None:
        """Stop the settling and writing threads (finish() does; a with-block does on the way out)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._settler.shutdown(wait=True, cancel_futures=True)
        finally:
            self._writer.close()

    def __enter__(self) -> Province:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- choosers: picks for the round of month m -------------------------------------------------

    def historical(self, m: int) -> list[Pick]:
        """The bureau's selection (tip-offs, crude indicators, random), as `simulate` makes it."""
        return [(self.world.fac.code[i], how) for i, how in self._historical(m)[0]]

    def oracle(self, m: int, k: int, exclude: Collection[str] = ()) -> list[Pick]:
        """The k open facilities that took the most (truth) in the 12 months before m; `exclude` are
        not eligible (e.g. inspected lately: the same exclusions as the policy it is compared with)."""
        self._round_month(m)
        ok = self._open_at(m) & ~self._codes_in(exclude)
        taken = np.where(ok, self.state.taken[:, max(0, m - 12):m, 1:].sum(axis=(1, 2)), -np.inf)
        order = np.argsort(-taken, kind="stable")[: min(_count(k), int(ok.sum()))]
        return [(self.world.fac.code[i], "targeted") for i in order]

    def random(self, m: int, k: int, seed: int = 0, exclude: Collection[str] = ()) -> list[Pick]:
        """k open facilities drawn uniformly (a generator of seed and m), none of `exclude`."""
        self._round_month(m)
        pool = np.flatnonzero(self._open_at(m) & ~self._codes_in(exclude))
        idx = np.random.default_rng([seed, m]).choice(pool, size=min(_count(k), len(pool)), replace=False)
        return [(self.world.fac.code[i], "random") for i in idx]

    # -- truth ------------------------------------------------------------------------------------

    def taken(self, code: str, period_begn: date | str, period_end: date | str) -> float:
        """The true amount (yuan) facility `code` took over the period, both days included; months the
        period covers in part count in proportion to their days."""
        i = self._facility(code, "taken")
        b, e = _day(period_begn), _day(period_end)
        if e < b:
            raise InputError(f"taken({code!r}): period_end {period_end} is before period_begn {period_begn}")
        if e >= month_first_day(self.month):
            raise NotReadyError(f"taken({code!r}): the period ends {period_end}, but only the months before "
                                f"{month_label(self.month)} are simulated; advance() further first")
        self._settled()
        total = 0.0
        for mm in range(max(0, month_of_day(b)), month_of_day(e) + 1):
            lo, hi = month_first_day(mm), month_first_day(mm + 1) - 1
            days = min(e, hi) - max(b, lo) + 1
            total += float(self.state.taken[i, mm, 1:].sum()) * days / (hi - lo + 1)
        return round(total, 2)

    def answer(self, lines: pd.DataFrame, error: float = 0.0, seed: Sequence[int] = (0,)) -> np.ndarray:
        """An inspector's verdict on each evidence line (columns hit_level, feedetl_sn, mdtrt_id): True
        (confirmed) when its claim is fraudulent in the truth — the fee line, or for a visit-level hit the
        visit — each verdict flipped with probability `error` (the inspector's mistakes), drawn from `seed`."""
        self._settled()
        bad_lines, bad_visits = self._truth.fraudulent()
        fee = lines["hit_level"].astype(str).eq("fee_line").to_numpy()
        true = np.fromiter(((f and sn in bad_lines) or v in bad_visits for f, sn, v in
                            zip(fee, lines["feedetl_sn"], lines["mdtrt_id"], strict=True)), bool, len(lines))
        if error > 0:
            flip = np.random.default_rng([self.seed, 6, *seed]).random(len(lines)) < error
            true = true ^ flip
        return true

    # -- internals --------------------------------------------------------------------------------

    def _finish_month(self, m: int, v: Frame, ln: Frame, rng: np.random.Generator) -> None:
        """Money, ids and the Arrow tables of month m, then hand them to the writer (on the settler)."""
        res = settle_month(self.world, self.state, m, v, ln, rng)
        for name in ("mdtrt_d", "setl_d", "fee_list_d"):
            tbl = to_table(name, res[name])
            self.counts[name] += tbl.num_rows
            self._writer.put(self.input / name / f"part-{m:05d}.parquet", tbl)
        self._truth.add_month(m, res["truth"])
        if self._progress:
            self._progress(m, self.counts["fee_list_d"])

    def _settled(self) -> None:
        """Wait for the month being settled: rounds and choosers read the money of every month before."""
        if self._pending is not None:
            self._pending.result()
            self._pending = None

    def _write_references(self, cut_day: int | None) -> None:
        refs = reference_tables(self.world, self.state, self._insp, self._points, month_first_day(0), cut_day)
        for name, cols in refs.items():
            tbl = to_table(name, cols)
            self.counts[name] = tbl.num_rows
            write(self.input / name / "part-00000.parquet", tbl)

    def _open(self) -> None:
        if self._closed:
            raise NotReadyError("the province is closed (finish() or close() was called); start a new Province")

    def _round_month(self, m: int) -> None:
        """A round is planned on the first day of the month `advance` reached, before it is simulated."""
        self._open()
        if not 1 <= m < N_MONTHS:
            raise InputError(f"round month {m}: give a month index 1–{N_MONTHS - 1} "
                             f"({month_label(1)} … {month_label(N_MONTHS - 1)})")
        if m > self.month:
            raise NotReadyError(f"round month {m} ({month_label(m)}): the months before it are not simulated "
                                f"yet; call advance({m}) first")
        if m < self.month:
            raise InputError(f"round month {m} ({month_label(m)}): the province is already at "
                             f"{month_label(self.month)}; a round can only be planned on the month reached")
        self._settled()

    def _codes_in(self, codes: Collection[str]) -> np.ndarray:
        mask = np.zeros(self.world.fac.n, dtype=bool)
        for c in codes:
            if c in self._index:
                mask[self._index[c]] = True
        return mask

    def _open_at(self, m: int) -> np.ndarray:
        return self.world.fac.begin_day < month_first_day(m)

    def _historical(self, m: int) -> tuple[list[tuple[int, str]], np.random.Generator]:
        """The historical choice and the generator after it (its inspections draw on from there)."""
        self._round_month(m)
        rng = np.random.default_rng([self.seed, 4, m])
        return historical_picks(self.world, self.state, m, self._history, rng), rng

    def _facility(self, code: str, where: str) -> int:
        if code not in self._index:
            raise InputError(f"{where}: {code!r} is not a facility of this province "
                             f"({len(self._index)} facilities, codes such as {self.world.fac.code[0]!r})")
        return self._index[code]

    def _resolve(self, m: int, picks: Sequence[Pick]) -> list[tuple[int, str]]:
        self._round_month(m)
        out: list[tuple[int, str]] = []
        seen: set[int] = set()
        plan_day = month_first_day(m)
        for n, pick in enumerate(picks):
            if len(pick) != 2:
                raise InputError(f"inspect({m}) pick {n}: {pick!r} is not a (fixmedins_code, selection) pair")
            code, how = pick
            i = self._facility(code, f"inspect({m}) pick {n}")
            if how not in SELECTION:
                raise InputError(f"inspect({m}) pick {n} ({code}): selection {how!r} is not one of "
                                 f"{', '.join(SELECTION)}")
            if self.world.fac.begin_day[i] >= plan_day:
                raise InputError(f"inspect({m}) pick {n}: {code} opens on {_iso(int(self.world.fac.begin_day[i]))}, "
                                 f"not before the round's planning day {_iso(plan_day)}")
            if i in seen:
                raise InputError(f"inspect({m}) pick {n}: {code} is picked twice")
            seen.add(i)
            out.append((i, str(how)))
        return out


def _count(k: int) -> int:
    if int(k) != k or k < 0:
        raise InputError(f"k = {k!r}: the number of facilities to pick must be a whole number ≥ 0")
    return int(k)


def _day(d: date | str) -> int:
    if isinstance(d, datetime):
        d = d.date()
    try:
        return day_of(d if isinstance(d, date) else date.fromisoformat(str(d)))
    except ValueError:
        raise InputError(f"{d!r} is not a date (YYYY-MM-DD)") from None


def _iso(days: int) -> str:
    return (EPOCH + timedelta(days=days)).isoformat()


def _contract_row(r: dict) -> dict:
    """An inspection row in the contract's column order, its dates as `datetime.date`."""
    return {c: (EPOCH + timedelta(days=int(r[c]))) if c in _DATES else r[c] for c in TABLES["inspections"].column_names}


__all__ = ["Pick", "Province"]
