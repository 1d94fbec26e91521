"""Domain priors the facility model must respect: inputs along which expected risk never falls.

With a few hundred labelled inspections a tree ensemble easily learns that *more* amount at risk in
the rule hits means *less* risk in some corner of the data, by chance. A supervisor would reject
such a model on sight, so those shapes are ruled out up front with LightGBM's monotone constraints:
an honest regulariser that uses no labels and no truth, only what the rule base and the inspection
history mean.

Non-decreasing in:
- every rule-hit feature (the `rules` family: amounts, lines, rates, distinct rules; raw, peer
  z-score and peer percentile alike): the rules exist to flag what inspections recover;
- the unsupervised anomaly score: more unusual than one's peers is never reassuring;
- prior serious findings and the amount recovered before: a facility caught before is not
  less likely to be caught again.
Everything else (volume, cost mix, growth, time since the last inspection, …) may act either way.
"""

from __future__ import annotations

from features.snapshot import registry
from training.anomaly import ANOMALY_COLUMN

INCREASING_FAMILIES: tuple[str, ...] = ("rules",)
INCREASING_FEATURES: tuple[str, ...] = ("prior_serious_findings", "prior_recovered", ANOMALY_COLUMN)


def risk_direction(column: str) -> int:
    """+1 when expected risk must not decrease as the column rises, 0 when unconstrained."""
    if column in INCREASING_FEATURES:
        return 1
    try:
        feature = registry.get(column)
    except KeyError:  # context columns (type, tier, ownership): no prior
        return 0
    return 1 if feature.family in INCREASING_FAMILIES or feature.name in INCREASING_FEATURES else 0


def monotone_constraints(columns: list[str]) -> list[int]:
    """LightGBM's `monotone_constraints`, one direction per model column in order."""
    return [risk_direction(c) for c in columns]
