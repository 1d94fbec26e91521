-- Rule kind: no_treatment_days (挂床住院)
-- Grain: one row per inpatient visit of at least min_los_days days in which the share of stay days
--        billed with nothing but "idle" charges (bed fee, by default) reaches min_idle_share.
--        Stay days are counted the insurance way (admission day in, discharge day out), at least 1;
--        a day is treated when any line other than the idle charge types is billed on it.
-- Parameters: med_types (codes), idle_chrgitm_types (codes: med_chrgitm_type, e.g. 01 bed fee),
--        min_los_days (int), min_idle_share (number 0–1).
-- Amount at risk: the visit's fund payment.
WITH stays AS (
    SELECT *, GREATEST(stay_days, 1) AS los_days
    FROM rule_visits
    WHERE med_type IN $med_types AND stay_days >= $min_los_days
),

treated_days AS (
    SELECT l.mdtrt_id, l.fee_day
    FROM rule_lines AS l
    INNER JOIN stays AS s ON l.mdtrt_id = s.mdtrt_id
    WHERE l.med_chrgitm_type NOT IN $idle_chrgitm_types AND l.fee_day >= s.begin_date AND l.fee_day <= s.end_date
    GROUP BY l.mdtrt_id, l.fee_day
),

treated_per_stay AS (
    SELECT mdtrt_id, COUNT(*) AS n_treated
    FROM treated_days
    GROUP BY mdtrt_id
),

idle_stays AS (
    SELECT s.*, GREATEST(s.los_days - COALESCE(t.n_treated, 0), 0) AS idle_days
    FROM stays AS s
    LEFT JOIN treated_per_stay AS t ON s.mdtrt_id = t.mdtrt_id
),

flagged AS (
    SELECT *, 100.0 * idle_days / los_days AS idle_pct
    FROM idle_stays
    WHERE CAST(idle_days AS DOUBLE) / los_days >= $min_idle_share
)
