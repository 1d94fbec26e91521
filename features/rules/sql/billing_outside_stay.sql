-- Rule kind: billing_outside_stay (计费日期与住院时间不符)
-- Grain: one row per fee line of an inpatient visit dated more than tolerance_days before the
--        admission date or after the discharge date (mdtrt_d.begntime / endtime, by calendar day).
-- Parameters: med_types (codes: inpatient med_type), tolerance_days (int).
-- Amount at risk: the line amount.
WITH stays AS (
    SELECT mdtrt_id, begin_date, end_date, begin_day, end_day
    FROM rule_visits
    WHERE med_type IN $med_types
),

flagged AS (
    SELECT
        l.*,
        l.det_item_fee_sumamt AS amount_at_risk,
        l.fee_day AS fee_date,
        s.begin_date,
        s.end_date
    FROM rule_lines AS l
    INNER JOIN stays AS s ON l.mdtrt_id = s.mdtrt_id
    WHERE l.day_no < s.begin_day - $tolerance_days OR l.day_no > s.end_day + $tolerance_days
)
