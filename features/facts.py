"""Facts that more than one stage reads: the rule base's kinds, the snapshot's features and training's
label defaults. Declared here, below the stage packages, so each imports them and none imports
another stage for them.
"""

from __future__ import annotations

# Mild main diagnoses (ICD-10 categories, the first three characters): conditions normally treated as
# outpatients. The feature `mild_admission_share` and the rule kind `mild_admission` both read this list.
MILD_DIAGNOSES = ("J00", "J06", "K29", "M54", "R51")
# A finding is serious when at least this many yuan are recovered, when it ends in one of these
# agreement actions, or when it is referred to the police: the defaults of training.labels.LabelConfig
# (min_recovered_yuan, fraud_actions), and what the history features count as a past serious finding.
# The features use these declared defaults, never a run's --label-config: a snapshot is shared by every
# training run on the same inputs, so it cannot depend on one run's label definition.
SERIOUS_RECOVERED = 50_000
SERIOUS_ACTIONS = ("suspend", "terminate")
