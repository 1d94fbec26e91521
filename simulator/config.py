"""Scale, calendar and money conventions shared by every simulator module.

The calendar is fixed (2022-01 … 2024-12, next round planned 2025-01-01) so that a seed gives the
same province whatever day it is run; nothing here reads the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from feijian.errors import InputError

EPOCH = date(1970, 1, 1)
FIRST_MONTH = (2022, 1)
N_MONTHS = 36
NEXT_ROUND_DATE = date(2025, 1, 1)
DAY = 86_400
REGIONS = tuple(f"9901{i:02d}" for i in range(1, 9))
# Share of people per region: the capital (990101) is the largest.
REGION_WEIGHTS = (0.24, 0.15, 0.13, 0.11, 0.10, 0.10, 0.09, 0.08)
DEMO_FACILITIES = 250
# The simulated people are a sample of the province; per-facility volumes follow from this ratio.
PERSONS_PER_FACILITY = {"demo": 92, "large": 290}
DEMO_CAPACITY = 30


@dataclass(frozen=True)
class Scale:
    """How big a province to simulate."""

    name: str
    n_facilities: int
    persons: int

    @property
    def capacity(self) -> int:
        """Inspection capacity per round, proportional to the demo's 30 per 250 facilities."""
        return max(4, round(DEMO_CAPACITY * self.n_facilities / DEMO_FACILITIES))


def parse_scale(scale: str | int) -> Scale:
    """Accept "demo", "large" or a number of facilities (everything else proportional)."""
    if isinstance(scale, int) or (isinstance(scale, str) and scale.strip().isdigit()):
        n = int(scale)
        if n < 20:
            raise InputError(f"--scale {n}: a numeric scale is a number of facilities, at least 20")
        return Scale(str(n), n, n * PERSONS_PER_FACILITY["demo"])
    name = str(scale).strip().lower()
    if name == "demo":
        return Scale("demo", DEMO_FACILITIES, DEMO_FACILITIES * PERSONS_PER_FACILITY["demo"])
    if name == "large":
        return Scale("large", 3000, 3000 * PERSONS_PER_FACILITY["large"])
    raise InputError(f"--scale {scale!r} is not valid: use demo, large or a number of facilities (e.g. 80)")


def month_ym(m: int) -> tuple[int, int]:
    y, mo = FIRST_MONTH
    k = (mo - 1) + m
    return y + k // 12, k % 12 + 1


def month_label(m: int) -> str:
    y, mo = month_ym(m)
    return f"{y:04d}-{mo:02d}"


def day_of(d: date) -> int:
    """Days since 1970-01-01 (Arrow date32)."""
    return (d - EPOCH).days


def month_first_day(m: int) -> int:
    y, mo = month_ym(m)
    return day_of(date(y, mo, 1))


def month_n_days(m: int) -> int:
    return month_first_day(m + 1) - month_first_day(m)


def export_end_day() -> int:
    """Last day with data (inclusive)."""
    return month_first_day(N_MONTHS) - 1


def month_of_day(days: int) -> int:
    """Simulation month index of a day number (may be negative or ≥ N_MONTHS)."""
    d = EPOCH.toordinal() + days
    dt = date.fromordinal(d)
    y0, m0 = FIRST_MONTH
    return (dt.year - y0) * 12 + (dt.month - m0)


def is_winter(m: int) -> float:
    """Respiratory season factor: peaks Dec–Feb, shoulders Nov/Mar."""
    mo = month_ym(m)[1]
    return {12: 1.0, 1: 1.0, 2: 0.85, 11: 0.5, 3: 0.4}.get(mo, 0.0)
