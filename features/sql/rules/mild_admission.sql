-- Rule kind: mild_admission (无指征住院 / 低标准入院)
-- Grain: one row per inpatient visit whose main diagnosis is on the flagged list (diagnoses normally
--        treated as outpatients) and whose length of stay is at most max_los_days.
-- Parameters: med_types (codes), mild_diagnoses (icd3, e.g. J00, J06, K29, M54, R51), max_los_days.
-- Amount at risk: the visit's fund payment.
WITH stays AS (
    SELECT
        mdtrt_id, psn_no, fixmedins_code, begntime, atddr_no, dscg_maindiag_code,
        SUBSTRING(UPPER(dscg_maindiag_code), 1, 3) AS diag3,
        date_diff('day', CAST(begntime AS DATE), CAST(endtime AS DATE)) AS los_days
    FROM mdtrt_d
    WHERE med_type IN $med_types AND dscg_maindiag_code IS NOT NULL
),

flagged AS (
    SELECT * FROM stays WHERE ${mild_diagnoses} AND los_days <= $max_los_days
),

${visit_fund_cte}

hits AS (
    SELECT
        m.fixmedins_code,
        m.mdtrt_id,
        m.psn_no,
        m.atddr_no AS dr_code,
        m.begntime AS event_time,
        COALESCE(f.fund_amt, 0) AS amount_at_risk,
        m.dscg_maindiag_code AS diag,
        m.los_days
    FROM flagged AS m
    LEFT JOIN visit_fund AS f ON m.mdtrt_id = f.mdtrt_id
)

SELECT
    ${evidence_select}
FROM hits AS h
