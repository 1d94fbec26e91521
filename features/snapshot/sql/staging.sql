-- Staging: point-in-time slices every feature family reads.
-- Inputs (views made by features.snapshot.build over the workspace, already pruned to the months needed):
--   src_visit, src_setl, src_fee, fixmedins, catalog
-- Parameters: $as_of, $window_start, $prev_start (dates), $inpatient_med_types (schema.INPATIENT_MED_TYPES).
-- Nothing on or after $as_of is read: visits must have ended, settlements and fee lines must have
-- happened, before $as_of.
-- Amounts are DECIMAL from here on: their sums are exact, so no feature depends on the order rows
-- arrive in (parallel float sums differ in the last bits; equal peers then swapped ranks between runs).
-- Design for 50 M fee lines: visits are staged before fee lines, the window's fee lines are read from
-- Parquet once (win_fee) and summed per visit; every later step works on visits or on win_fee.

-- stg_visit: one row per visit that began on/after $prev_start and ended before $as_of.
CREATE OR REPLACE TEMP TABLE stg_visit AS
WITH visits AS (
    SELECT
        v.mdtrt_id, v.psn_no, v.fixmedins_code, v.med_type, v.begntime, v.endtime,
        v.dscg_maindiag_code, v.drg_code, v.drg_weight, v.atddr_no, v.dept, v.gend, v.age,
        CAST(v.begntime AS DATE) AS visit_day,
        v.med_type IN $inpatient_med_types AS is_inpatient,
        v.begntime >= $window_start AS in_win,
        GREATEST(DATE_DIFF('day', CAST(v.begntime AS DATE), CAST(v.endtime AS DATE)), 1) AS los
    FROM src_visit AS v
    WHERE v.begntime >= $prev_start AND v.endtime < $as_of
),
pay AS (
    SELECT
        mdtrt_id,
        SUM(CAST(fund_pay_sumamt AS DECIMAL(18, 4))) AS fund_pay,
        SUM(CAST(medfee_sumamt AS DECIMAL(18, 4))) AS medfee
    FROM src_setl
    WHERE setl_time >= $prev_start AND setl_time < $as_of
    GROUP BY mdtrt_id
),
inpatient_gaps AS (
    SELECT
        mdtrt_id,
        DATE_DIFF(
            'day',
            CAST(LAG(endtime) OVER (PARTITION BY fixmedins_code, psn_no ORDER BY begntime, mdtrt_id) AS DATE),
            CAST(begntime AS DATE)
        ) AS days_since_discharge
    FROM visits
    WHERE is_inpatient
)
SELECT
    visits.*,
    COALESCE(pay.fund_pay, 0) AS fund_pay,
    COALESCE(pay.medfee, 0) AS medfee,
    inpatient_gaps.days_since_discharge
FROM visits
LEFT JOIN pay ON pay.mdtrt_id = visits.mdtrt_id
LEFT JOIN inpatient_gaps ON inpatient_gaps.mdtrt_id = visits.mdtrt_id;

-- win_fee: the window's fee lines of visits known at $as_of (ended before it), with the columns the
-- feature families and the rule base read. This is the only pass over the fee lines' Parquet files:
-- staging's visit sums, the physician roll-up, the census and every fee-line rule read this table,
-- so all agree on what is known and none re-decodes the files (at 18 M window lines the 20-odd
-- re-reads cost more than everything else together).
-- A regular table, not TEMP: the DuckDB build keeps it in a scratch database file, compressed as it
-- is written (a temp table is held uncompressed in memory and spilled past the limit at 18 M lines).
CREATE OR REPLACE TABLE win_fee AS
SELECT
    f.feedetl_sn, f.mdtrt_id, f.psn_no, f.fixmedins_code, f.fee_ocur_time, f.med_list_codg,
    f.list_type, f.med_chrgitm_type, f.chrgitm_lv, f.cnt, f.pric,
    CAST(f.det_item_fee_sumamt AS DECIMAL(18, 4)) AS det_item_fee_sumamt,
    f.bilg_dr_codg, f.trace_code
FROM src_fee AS f
WHERE f.fee_ocur_time >= $window_start AND f.fee_ocur_time < $as_of
  AND f.mdtrt_id IN (SELECT mdtrt_id FROM stg_visit WHERE in_win);

-- stg_visit_fee: one row per window visit with its fee lines summed by category.
CREATE OR REPLACE TEMP TABLE stg_visit_fee AS
WITH lines AS (
    SELECT
        f.mdtrt_id,
        f.med_chrgitm_type, f.chrgitm_lv, f.list_type, f.cnt,
        f.det_item_fee_sumamt AS amt,
        c.days_per_unit, c.max_days_supply, c.lmt_gend, c.lmt_age_min, c.lmt_age_max,
        v.gend, v.age
    FROM win_fee AS f
    JOIN stg_visit AS v ON v.mdtrt_id = f.mdtrt_id
    LEFT JOIN catalog AS c ON c.med_list_codg = f.med_list_codg
)
SELECT
    mdtrt_id,
    SUM(amt) AS fee_total,
    SUM(CASE WHEN list_type IN ('101', '102') THEN amt ELSE 0 END) AS fee_drug,
    SUM(CASE WHEN med_chrgitm_type IN ('03', '04') THEN amt ELSE 0 END) AS fee_test,
    SUM(CASE WHEN list_type = '301' OR med_chrgitm_type = '08' THEN amt ELSE 0 END) AS fee_consumable,
    SUM(CASE WHEN med_chrgitm_type IN ('05', '06') THEN amt ELSE 0 END) AS fee_treatment,
    SUM(CASE WHEN chrgitm_lv = '03' THEN amt ELSE 0 END) AS fee_selfpay,
    SUM(CASE WHEN med_chrgitm_type IN ('03', '04') THEN 1 ELSE 0 END) AS n_test_lines,
    SUM(CASE WHEN list_type IN ('101', '102') THEN cnt * COALESCE(days_per_unit, 0) ELSE 0 END) AS days_supply,
    SUM(CASE WHEN list_type IN ('101', '102') THEN 1 ELSE 0 END) AS n_drug_lines,
    SUM(CASE WHEN max_days_supply IS NOT NULL AND cnt * COALESCE(days_per_unit, 0) > max_days_supply
             THEN 1 ELSE 0 END) AS n_over_supply,
    SUM(CASE WHEN lmt_gend IS NOT NULL THEN 1 ELSE 0 END) AS n_sex_lines,
    SUM(CASE WHEN lmt_gend IS NOT NULL AND gend IN ('1', '2') AND gend <> lmt_gend THEN 1 ELSE 0 END)
        AS n_sex_mismatch,
    SUM(CASE WHEN lmt_age_min IS NOT NULL OR lmt_age_max IS NOT NULL THEN 1 ELSE 0 END) AS n_age_lines,
    SUM(CASE WHEN age < COALESCE(lmt_age_min, -1) OR age > COALESCE(lmt_age_max, 1000) THEN 1 ELSE 0 END)
        AS n_age_mismatch
FROM lines
GROUP BY mdtrt_id;

-- stg_stay_days: bed-days and treated days of inpatient stays only (distinct days per stay are
-- costly; outpatient visits need neither). Grain: one row per window inpatient visit.
CREATE OR REPLACE TEMP TABLE stg_stay_days AS
WITH stay_day AS (
    SELECT
        f.mdtrt_id,
        CAST(f.fee_ocur_time AS DATE) AS fee_day,
        MAX(CASE WHEN f.med_chrgitm_type = '01' THEN 1 ELSE 0 END) AS has_bed,
        MAX(CASE WHEN f.med_chrgitm_type IN ('03', '04', '05', '06', '09', '10', '11') THEN 1 ELSE 0 END)
            AS has_treat
    FROM win_fee AS f
    JOIN stg_visit AS v ON v.mdtrt_id = f.mdtrt_id AND v.is_inpatient
    GROUP BY f.mdtrt_id, CAST(f.fee_ocur_time AS DATE)
)
SELECT mdtrt_id, SUM(has_bed) AS bed_days, SUM(has_treat) AS treat_days
FROM stay_day
GROUP BY mdtrt_id;

-- The rule base reads the window under the contract's own table names.
CREATE OR REPLACE TEMP VIEW fee_list_d AS SELECT * FROM win_fee;

-- mdtrt_d: the window's visits (the same rows as src_visit with begntime >= $window_start and
-- endtime < $as_of), read from stg_visit in memory rather than from the Parquet files again.
CREATE OR REPLACE TEMP VIEW mdtrt_d AS
SELECT
    mdtrt_id, psn_no, fixmedins_code, med_type, begntime, endtime, dscg_maindiag_code, drg_code,
    drg_weight, atddr_no, dept, gend, age
FROM stg_visit
WHERE in_win;

CREATE OR REPLACE TEMP VIEW setl_d AS
SELECT * FROM src_setl
WHERE setl_time >= $window_start AND mdtrt_id IN (SELECT mdtrt_id FROM stg_visit WHERE in_win);
