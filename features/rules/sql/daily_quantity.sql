-- Rule kind: daily_quantity (每日限定数量, e.g. bed fee twice a day)
-- Grain: one row per fee line that takes a person's units of one item on one day above the
--        catalogue limit (catalog.max_cnt_per_day), counted across visits and facilities.
-- Parameters: tolerance (number: extra units allowed per day).
-- Amount at risk: the units above the limit × unit price (earlier lines of the day are within it).
WITH limited_items AS (
    SELECT med_list_codg, max_cnt_per_day + $tolerance AS limit_cnt, max_cnt_per_day
    FROM catalog
    WHERE max_cnt_per_day IS NOT NULL
),

running AS (
    SELECT
        l.*, i.limit_cnt, i.max_cnt_per_day AS max_cnt,
        SUM(l.cnt) OVER (
            PARTITION BY l.psn_no, l.med_list_codg, l.fee_day
            ORDER BY l.fee_ocur_time, l.feedetl_sn
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS cum_cnt,
        SUM(l.cnt) OVER (PARTITION BY l.psn_no, l.med_list_codg, l.fee_day) AS day_cnt
    FROM rule_lines AS l
    INNER JOIN limited_items AS i ON l.med_list_codg = i.med_list_codg
),

flagged AS (
    SELECT *, pric * LEAST(cnt, cum_cnt - limit_cnt) AS amount_at_risk
    FROM running
    WHERE cum_cnt > limit_cnt
)
