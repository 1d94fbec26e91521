-- Rule kind: mild_admission (无指征住院 / 低标准入院)
-- Grain: one row per inpatient visit whose main diagnosis is on the flagged list (diagnoses normally
--        treated as outpatients) and whose length of stay is at most max_los_days.
-- Parameters: med_types (codes), mild_diagnoses (icd3, e.g. J00, J06, K29, M54, R51), max_los_days.
-- Amount at risk: the visit's fund payment.
WITH flagged AS (
    SELECT *, dscg_maindiag_code AS diag, stay_days AS los_days
    FROM rule_visits
    WHERE med_type IN $med_types AND dscg_maindiag_code IS NOT NULL
        AND ${mild_diagnoses} AND stay_days <= $max_los_days
)
