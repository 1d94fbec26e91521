-- Rule kind: readmission (分解住院)
-- Grain: one row per inpatient visit that begins min_gap_days..max_gap_days days after the same
--        person's previous discharge from the same facility (days between discharge date and
--        admission date). The later stay is the hit; overlapping stays are not judged here.
-- Parameters: med_types (codes: inpatient med_type, e.g. 21), min_gap_days, max_gap_days (int).
-- Amount at risk: the readmission's fund payment (setl_d.fund_pay_sumamt, refunds netted).
WITH stays AS (
    SELECT
        mdtrt_id, psn_no, fixmedins_code, begntime, endtime, dscg_maindiag_code, atddr_no,
        date_diff('day', DATE '1970-01-01', CAST(begntime AS DATE)) AS begin_day,
        date_diff('day', DATE '1970-01-01', CAST(endtime AS DATE)) AS end_day
    FROM mdtrt_d
    WHERE med_type IN $med_types
),

with_previous AS (
    SELECT
        s.*,
        LAG(s.mdtrt_id) OVER (PARTITION BY s.psn_no, s.fixmedins_code ORDER BY s.begntime, s.mdtrt_id)
            AS prev_mdtrt_id,
        LAG(s.endtime) OVER (PARTITION BY s.psn_no, s.fixmedins_code ORDER BY s.begntime, s.mdtrt_id)
            AS prev_endtime,
        LAG(s.end_day) OVER (PARTITION BY s.psn_no, s.fixmedins_code ORDER BY s.begntime, s.mdtrt_id)
            AS prev_end_day,
        LAG(s.dscg_maindiag_code) OVER (
            PARTITION BY s.psn_no, s.fixmedins_code ORDER BY s.begntime, s.mdtrt_id
        ) AS prev_diag
    FROM stays AS s
),

flagged AS (
    SELECT w.*, w.begin_day - w.prev_end_day AS gap_days
    FROM with_previous AS w
    WHERE w.prev_end_day IS NOT NULL
        AND w.begin_day - w.prev_end_day BETWEEN $min_gap_days AND $max_gap_days
),

${visit_fund_cte}

hits AS (
    SELECT
        r.fixmedins_code,
        r.mdtrt_id,
        r.psn_no,
        r.atddr_no AS dr_code,
        r.begntime AS event_time,
        COALESCE(v.fund_amt, 0) AS amount_at_risk,
        r.gap_days,
        r.prev_mdtrt_id,
        r.prev_endtime AS prev_end_date,
        r.dscg_maindiag_code AS diag,
        r.prev_diag
    FROM flagged AS r
    LEFT JOIN visit_fund AS v ON r.mdtrt_id = v.mdtrt_id
)

SELECT
    ${evidence_select}
FROM hits AS h
