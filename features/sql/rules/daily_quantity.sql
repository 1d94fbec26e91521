-- Rule kind: daily_quantity (每日限定数量, e.g. bed fee twice a day)
-- Grain: one row per fee line that takes a person's units of one item on one day above the
--        catalogue limit (catalog.max_cnt_per_day), counted across visits and facilities.
-- Parameters: tolerance (number: extra units allowed per day).
-- Amount at risk: the units above the limit × unit price (earlier lines of the day are within it).
WITH limited_items AS (
    SELECT med_list_codg, name AS item_name, max_cnt_per_day + $tolerance AS limit_cnt, max_cnt_per_day
    FROM catalog
    WHERE max_cnt_per_day IS NOT NULL
),

limited_lines AS (
    SELECT
        f.feedetl_sn, f.mdtrt_id, f.psn_no, f.fixmedins_code, f.fee_ocur_time, f.med_list_codg,
        f.cnt, f.pric, f.bilg_dr_codg, i.item_name, i.limit_cnt, i.max_cnt_per_day,
        CAST(f.fee_ocur_time AS DATE) AS fee_date
    FROM fee_list_d AS f
    INNER JOIN limited_items AS i ON f.med_list_codg = i.med_list_codg
    WHERE f.cnt > 0
),

running AS (
    SELECT
        l.*,
        SUM(l.cnt) OVER (
            PARTITION BY l.psn_no, l.med_list_codg, l.fee_date
            ORDER BY l.fee_ocur_time, l.feedetl_sn
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS cum_cnt,
        SUM(l.cnt) OVER (PARTITION BY l.psn_no, l.med_list_codg, l.fee_date) AS day_cnt
    FROM limited_lines AS l
),

hits AS (
    SELECT
        fixmedins_code,
        mdtrt_id,
        feedetl_sn,
        psn_no,
        bilg_dr_codg AS dr_code,
        fee_ocur_time AS event_time,
        med_list_codg,
        pric * LEAST(cnt, cum_cnt - limit_cnt) AS amount_at_risk,
        item_name,
        day_cnt,
        max_cnt_per_day AS max_cnt
    FROM running
    WHERE cum_cnt > limit_cnt
)

SELECT
    ${evidence_select}
FROM hits AS h
