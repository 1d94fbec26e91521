-- Rule kind: mild_admission (无指征住院 / 低标准入院)
-- Grain: one row per inpatient visit whose main diagnosis is on the mild list (diagnoses normally
--        treated as outpatients: features.facts.MILD_DIAGNOSES) and whose length of stay is at most
--        max_los_days.
-- Parameters: med_types (codes), max_los_days (int); the list is $mild_diagnoses, declared once.
-- Amount at risk: the visit's fund payment.
WITH flagged AS (
    SELECT *, dscg_maindiag_code AS diag, stay_days AS los_days
    FROM rule_visits
    WHERE med_type IN $med_types AND dscg_maindiag_code IS NOT NULL
        AND diag3 IN $mild_diagnoses AND stay_days <= $max_los_days
)
