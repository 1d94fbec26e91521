"""Evasion presets: how much of the violation volume takes forms the rule base does not see.

Each mechanism (one module of behaviours/) has a plain form, seen by the rule kinds declared here
(features/rules/kinds.py; the rules of features/rules/rules.yaml are instances of them), and most
have an evasive form none of those kinds sees. A preset says how schemers weigh the mechanisms
when they choose theirs, how hard they push a form the rules see ("subtler": a lower intensity)
and one they do not, and what share of the schemes with an evasive form use it.

`normal` is the province as it always was: no scheme evasive, weights and intensities untouched,
and no extra random draw anywhere, so its output is byte-identical. `high` puts most of the taken
amount where no rule looks. docs/simulator.md has the table per mechanism and the measured shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from feijian.errors import InputError


@dataclass(frozen=True)
class Mechanism:
    seen_by: tuple[str, ...]  # rule kinds that see the plain form (empty: no rule looks at this)
    evasive: str = ""  # what the evasive form does differently ("" when it has none)


MECHANISMS: dict[str, Mechanism] = {
    "split_admission": Mechanism(("readmission",), "readmits 16–30 days after discharge, past both windows (≤ 15)"),
    "phantom_stay": Mechanism(("no_treatment_days",), "bills an injection on most stay days, so few days look idle"),
    "low_threshold_admission": Mechanism(("mild_admission",), "keeps the mild-diagnosis stays at 4–7 days (rule: ≤ 3)"),
    "upcoding": Mechanism(()),
    "over_testing": Mechanism(("frequency_per_period",), "adds panel tests only, never an HbA1c inside 90 days"),
    "repeat_charge": Mechanism(("package_repeat", "duplicate_line", "daily_quantity"),
                               "duplicates only drug lines without a days-supply or daily limit (injections)"),
    "split_charge": Mechanism(("split_charge",)),
    "over_price": Mechanism(("price_cap",), "prices at 97–99.9 % of the cap (the adaptive form)"),
    "item_swap": Mechanism(()),
    "sex_restricted": Mechanism(("gender_restricted",)),
    "age_restricted": Mechanism(("age_restricted",)),
    "over_prescription": Mechanism(("days_supply",), "prescribes exactly the maximum days (the adaptive form)"),
    "card_misuse": Mechanism(("frequent_visits", "same_day_facilities"),
                             "uses each card once or twice a month on spread days, no bursts"),
    "trace_resale": Mechanism(("trace_duplicate",), "settles the resold box without scanning its trace code"),
    "fabricated": Mechanism(()),
    "ring": Mechanism(("frequent_visits", "same_day_facilities")),
}


def rule_visible(pattern: str, evasive: bool) -> bool:
    """Whether a scheme of `pattern` in that form leaves what some rule kind looks for."""
    m = MECHANISMS[pattern]
    return bool(m.seen_by) and not (evasive and m.evasive)


@dataclass(frozen=True)
class Evasion:
    name: str
    evasive_share: float = 0.0  # of the schemes whose mechanism has an evasive form
    weight: Mapping[str, float] = field(default_factory=dict)  # pattern → relative choice weight (1 if absent)
    visible_intensity: float = 1.0  # multiplier for schemes in a form the rules see
    hidden_intensity: float = 1.0  # … and in a form they do not

    @property
    def plain(self) -> bool:
        """The historical province: nothing changes, nothing extra is drawn."""
        return self.evasive_share == 0 and not self.weight and self.visible_intensity == self.hidden_intensity == 1


_NO_EVASIVE_FORM = [p for p, m in MECHANISMS.items() if m.seen_by and not m.evasive]
PRESETS: dict[str, Evasion] = {
    "normal": Evasion("normal"),
    # Tuned at demo scale: 94–97 % of the taken amount unseen for seeds 7, 3, 11 (normal: 30–59 %).
    "high": Evasion(
        "high", evasive_share=0.75,
        weight={"upcoding": 3.0, "fabricated": 2.0, "item_swap": 1.5, **{p: 0.5 for p in _NO_EVASIVE_FORM}},
        visible_intensity=0.5, hidden_intensity=1.3,
    ),
}


def parse_evasion(name: str | Evasion) -> Evasion:
    if isinstance(name, Evasion):
        return name
    key = str(name).strip().lower()
    if key not in PRESETS:
        raise InputError(f"--evasion {name!r} is not valid: use {' or '.join(PRESETS)}")
    return PRESETS[key]


__all__ = ["MECHANISMS", "PRESETS", "Evasion", "Mechanism", "parse_evasion", "rule_visible"]
