-- Rule kind: frequency_per_period (限定频次)
-- Grain: one row per fee line that takes a person's count of one item above the catalogue limit
--        (catalog.max_cnt_per_period) within its period (catalog.period_days), e.g. HbA1c twice in
--        90 days. The window is the line's day and the period_days - 1 days before it.
-- Parameters: tolerance_days (int: shortens the period, so tests "almost" a period apart pass).
-- Method: each test adds its count on its day and removes it period days later; a running sum over
--        the person-item's events gives the count in the period without a self-join, and lets the
--        period differ per item (a fixed window frame could not).
-- Amount at risk: the units above the limit × unit price.
WITH limited_items AS (
    SELECT
        med_list_codg, max_cnt_per_period AS max_cnt, period_days, period_days - $tolerance_days AS window_days
    FROM catalog
    WHERE max_cnt_per_period IS NOT NULL AND period_days IS NOT NULL
),

tests AS (
    SELECT
        l.*,
        i.max_cnt, i.period_days, i.window_days,
        LAG(l.fee_day) OVER (PARTITION BY l.psn_no, l.med_list_codg ORDER BY l.fee_ocur_time, l.feedetl_sn)
            AS prev_date
    FROM rule_lines AS l
    INNER JOIN limited_items AS i ON l.med_list_codg = i.med_list_codg
),

events AS (
    SELECT psn_no, med_list_codg, day_no, 1 AS is_test, cnt AS delta, fee_ocur_time, feedetl_sn
    FROM tests
    UNION ALL
    SELECT psn_no, med_list_codg, day_no + window_days AS day_no, 0 AS is_test, -cnt AS delta,
        fee_ocur_time, feedetl_sn
    FROM tests
),

running AS (
    SELECT
        feedetl_sn,
        is_test,
        SUM(delta) OVER (
            PARTITION BY psn_no, med_list_codg
            ORDER BY day_no, is_test, fee_ocur_time, feedetl_sn
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS n_in_period
    FROM events
),

flagged AS (
    SELECT t.*, t.pric * LEAST(t.cnt, r.n_in_period - t.max_cnt) AS amount_at_risk, r.n_in_period AS n
    FROM tests AS t
    INNER JOIN running AS r ON t.feedetl_sn = r.feedetl_sn AND r.is_test = 1
    WHERE r.n_in_period > t.max_cnt
)
