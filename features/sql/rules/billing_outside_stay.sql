-- Rule kind: billing_outside_stay (计费日期与住院时间不符)
-- Grain: one row per fee line of an inpatient visit dated more than tolerance_days before the
--        admission date or after the discharge date (mdtrt_d.begntime / endtime, by calendar day).
-- Parameters: med_types (codes: inpatient med_type), tolerance_days (int).
-- Amount at risk: the line amount.
WITH stays AS (
    SELECT
        mdtrt_id, begntime, endtime,
        date_diff('day', DATE '1970-01-01', CAST(begntime AS DATE)) AS begin_day,
        date_diff('day', DATE '1970-01-01', CAST(endtime AS DATE)) AS end_day
    FROM mdtrt_d
    WHERE med_type IN $med_types
),

outside_lines AS (
    SELECT
        f.feedetl_sn, f.mdtrt_id, f.psn_no, f.fixmedins_code, f.fee_ocur_time, f.med_list_codg,
        f.det_item_fee_sumamt, f.bilg_dr_codg, s.begntime, s.endtime
    FROM fee_list_d AS f
    INNER JOIN stays AS s ON f.mdtrt_id = s.mdtrt_id
    WHERE f.cnt > 0
        AND (
            date_diff('day', DATE '1970-01-01', CAST(f.fee_ocur_time AS DATE)) < s.begin_day - $tolerance_days
            OR date_diff('day', DATE '1970-01-01', CAST(f.fee_ocur_time AS DATE)) > s.end_day + $tolerance_days
        )
),

hits AS (
    SELECT
        o.fixmedins_code,
        o.mdtrt_id,
        o.feedetl_sn,
        o.psn_no,
        o.bilg_dr_codg AS dr_code,
        o.fee_ocur_time AS event_time,
        o.med_list_codg,
        o.det_item_fee_sumamt AS amount_at_risk,
        c.name AS item_name,
        o.fee_ocur_time AS fee_date,
        o.begntime AS begin_date,
        o.endtime AS end_date
    FROM outside_lines AS o
    LEFT JOIN catalog AS c ON o.med_list_codg = c.med_list_codg
)

SELECT
    ${evidence_select}
FROM hits AS h
