-- What every rule kind reads besides the window's tables, created before the rules run
-- (features.rules.base.create_rule_views). Views, not tables: each kind's query still reads only the
-- columns and rows it needs.

-- rule_lines: the fee lines the rules judge, billed ones only (cnt > 0: a refund or a cancelled line
-- is never a hit), with the evidence table's names for the billing physician (dr_code) and the time
-- (event_time), and the line's calendar day (fee_day, day_no counted from 1970-01-01).
CREATE OR REPLACE TEMP VIEW rule_lines AS
SELECT
    feedetl_sn, mdtrt_id, psn_no, fixmedins_code, fee_ocur_time, med_list_codg, list_type, med_chrgitm_type,
    cnt, pric, det_item_fee_sumamt, trace_code,
    bilg_dr_codg AS dr_code,
    fee_ocur_time AS event_time,
    CAST(fee_ocur_time AS DATE) AS fee_day,
    date_diff('day', DATE '1970-01-01', CAST(fee_ocur_time AS DATE)) AS day_no
FROM fee_list_d
WHERE cnt > 0;

-- rule_visits: the window's visits, with the evidence table's names for the attending physician
-- (dr_code) and the start (event_time), their calendar days (begin_date, end_date; begin_day and
-- end_day counted from 1970-01-01; stay_days between them) and the main diagnosis's ICD-10 category
-- (diag3: its first three characters, upper case).
CREATE OR REPLACE TEMP VIEW rule_visits AS
SELECT
    mdtrt_id, psn_no, fixmedins_code, med_type, begntime, endtime, dscg_maindiag_code, gend, age,
    atddr_no AS dr_code,
    begntime AS event_time,
    CAST(begntime AS DATE) AS begin_date,
    CAST(endtime AS DATE) AS end_date,
    date_diff('day', DATE '1970-01-01', CAST(begntime AS DATE)) AS begin_day,
    date_diff('day', DATE '1970-01-01', CAST(endtime AS DATE)) AS end_day,
    date_diff('day', CAST(begntime AS DATE), CAST(endtime AS DATE)) AS stay_days,
    SUBSTRING(UPPER(dscg_maindiag_code), 1, 3) AS diag3
FROM mdtrt_d;

-- rule_facilities: each facility's tier (fixmedins.hosp_lv folded by schema.HOSP_TIER; 0 when the
-- level is unknown) and its level's name; hosp_levels is that code list as VALUES (code, tier, name).
CREATE OR REPLACE TEMP VIEW rule_facilities AS
SELECT
    fm.fixmedins_code,
    COALESCE(t.tier, 0) AS facility_tier,
    COALESCE(t.name, '未知等级') AS hosp_lv_name
FROM fixmedins AS fm
LEFT JOIN (${hosp_levels}) AS t(hosp_lv, tier, name) ON t.hosp_lv = fm.hosp_lv;
