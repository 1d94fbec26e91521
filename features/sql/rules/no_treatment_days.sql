-- Rule kind: no_treatment_days (挂床住院)
-- Grain: one row per inpatient visit of at least min_los_days days in which the share of stay days
--        billed with nothing but "idle" charges (bed fee, by default) reaches min_idle_share.
--        Stay days are counted the insurance way (admission day in, discharge day out), at least 1;
--        a day is treated when any line other than the idle charge types is billed on it.
-- Parameters: med_types (codes), idle_chrgitm_types (codes: med_chrgitm_type, e.g. 01 bed fee),
--        min_los_days (int), min_idle_share (number 0–1).
-- Amount at risk: the visit's fund payment.
WITH stays AS (
    SELECT
        mdtrt_id, psn_no, fixmedins_code, begntime, atddr_no,
        CAST(begntime AS DATE) AS begin_date,
        CAST(endtime AS DATE) AS end_date,
        GREATEST(date_diff('day', CAST(begntime AS DATE), CAST(endtime AS DATE)), 1) AS los_days
    FROM mdtrt_d
    WHERE med_type IN $med_types
        AND date_diff('day', CAST(begntime AS DATE), CAST(endtime AS DATE)) >= $min_los_days
),

treated_days AS (
    SELECT f.mdtrt_id, CAST(f.fee_ocur_time AS DATE) AS fee_date
    FROM fee_list_d AS f
    INNER JOIN stays AS s ON f.mdtrt_id = s.mdtrt_id
    WHERE f.cnt > 0
        AND f.med_chrgitm_type NOT IN $idle_chrgitm_types
        AND CAST(f.fee_ocur_time AS DATE) >= s.begin_date
        AND CAST(f.fee_ocur_time AS DATE) <= s.end_date
    GROUP BY f.mdtrt_id, CAST(f.fee_ocur_time AS DATE)
),

treated_per_stay AS (
    SELECT mdtrt_id, COUNT(*) AS n_treated
    FROM treated_days
    GROUP BY mdtrt_id
),

idle_stays AS (
    SELECT
        s.*,
        GREATEST(s.los_days - COALESCE(t.n_treated, 0), 0) AS idle_days
    FROM stays AS s
    LEFT JOIN treated_per_stay AS t ON s.mdtrt_id = t.mdtrt_id
),

flagged AS (
    SELECT * FROM idle_stays WHERE CAST(idle_days AS DOUBLE) / los_days >= $min_idle_share
),

${visit_fund_cte}

hits AS (
    SELECT
        q.fixmedins_code,
        q.mdtrt_id,
        q.psn_no,
        q.atddr_no AS dr_code,
        q.begntime AS event_time,
        COALESCE(f.fund_amt, 0) AS amount_at_risk,
        q.los_days,
        q.idle_days,
        100.0 * q.idle_days / q.los_days AS idle_pct
    FROM flagged AS q
    LEFT JOIN visit_fund AS f ON q.mdtrt_id = f.mdtrt_id
)

SELECT
    ${evidence_select}
FROM hits AS h
