-- Rule kind: readmission (分解住院)
-- Grain: one row per inpatient visit that begins min_gap_days..max_gap_days days after the same
--        person's previous discharge from the same facility (days between discharge date and
--        admission date). The later stay is the hit; overlapping stays are not judged here.
-- Parameters: med_types (codes: inpatient med_type, e.g. 21), min_gap_days, max_gap_days (int).
-- Amount at risk: the readmission's fund payment (setl_d.fund_pay_sumamt, refunds netted).
WITH stays AS (
    SELECT * FROM rule_visits WHERE med_type IN $med_types
),

with_previous AS (
    SELECT
        s.*,
        LAG(s.mdtrt_id) OVER (PARTITION BY s.psn_no, s.fixmedins_code ORDER BY s.begntime, s.mdtrt_id)
            AS prev_mdtrt_id,
        LAG(s.endtime) OVER (PARTITION BY s.psn_no, s.fixmedins_code ORDER BY s.begntime, s.mdtrt_id)
            AS prev_end_date,
        LAG(s.end_day) OVER (PARTITION BY s.psn_no, s.fixmedins_code ORDER BY s.begntime, s.mdtrt_id)
            AS prev_end_day,
        LAG(s.dscg_maindiag_code) OVER (
            PARTITION BY s.psn_no, s.fixmedins_code ORDER BY s.begntime, s.mdtrt_id
        ) AS prev_diag
    FROM stays AS s
),

flagged AS (
    SELECT w.*, w.begin_day - w.prev_end_day AS gap_days, w.dscg_maindiag_code AS diag
    FROM with_previous AS w
    WHERE w.prev_end_day IS NOT NULL
        AND w.begin_day - w.prev_end_day BETWEEN $min_gap_days AND $max_gap_days
)
