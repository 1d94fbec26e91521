-- Rule kind: frequent_visits (频繁门诊 / 频繁购药)
-- Grain: one row per visit of the given types at which the person's count of such visits, over the
--        visit's day and the lookback_days before it, exceeds max_visits (all facilities counted;
--        the hit is charged to the facility of the visit).
-- Parameters: med_types (codes, e.g. 11 outpatient or 41 pharmacy), lookback_days (int: 29 means a
--        30-day window), max_visits (int).
-- Amount at risk: the visit's fund payment.
WITH visits AS (
    SELECT * FROM rule_visits WHERE med_type IN $med_types
),

frequent_people AS (
    -- a person with at most max_visits such visits in the whole window cannot exceed it in a part
    SELECT psn_no
    FROM visits
    GROUP BY psn_no
    HAVING COUNT(*) > $max_visits
),

counted AS (
    SELECT
        v.*,
        COUNT(*) OVER (
            PARTITION BY v.psn_no ORDER BY v.begin_day RANGE BETWEEN $lookback_days PRECEDING AND CURRENT ROW
        ) AS n_visits
    FROM visits AS v
    WHERE v.psn_no IN (SELECT psn_no FROM frequent_people)
),

flagged AS (
    SELECT *, $lookback_days + 1 AS window_days FROM counted WHERE n_visits > $max_visits
)
