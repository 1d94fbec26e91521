"""Which behaviour module runs at which stage: pattern → (visit-stage, line-stage) function.

A module of its own because every behaviour imports the declarations of simulator.behaviours
(`Active`, `Ctx`): listing them there would make the package and its modules import each other.
"""

from __future__ import annotations

from simulator.behaviours import Stage


def registry() -> dict[str, tuple[Stage | None, Stage | None]]:
    """pattern → (visit-stage function, line-stage function), in the order they run."""
    from simulator.behaviours import (
        age_restricted,
        card_misuse,
        fabricated,
        item_swap,
        low_threshold,
        over_prescription,
        over_price,
        over_testing,
        phantom_stay,
        repeat_charge,
        ring,
        sex_restricted,
        split_admission,
        split_charge,
        trace_resale,
        upcoding,
    )

    return {
        "split_admission": (split_admission.visits, None),
        "phantom_stay": (phantom_stay.visits, phantom_stay.lines),
        "low_threshold_admission": (low_threshold.visits, None),
        "upcoding": (upcoding.visits, None),
        "card_misuse": (card_misuse.visits, None),
        "trace_resale": (trace_resale.visits, trace_resale.lines),
        "fabricated": (fabricated.visits, fabricated.lines),
        "over_testing": (None, over_testing.lines),
        "repeat_charge": (None, repeat_charge.lines),
        "split_charge": (None, split_charge.lines),
        "item_swap": (None, item_swap.lines),
        "sex_restricted": (None, sex_restricted.lines),
        "age_restricted": (None, age_restricted.lines),
        "over_prescription": (None, over_prescription.lines),
        "over_price": (None, over_price.lines),
        "ring": (ring.visits, None),  # last: a province without rings draws what it always drew
    }
