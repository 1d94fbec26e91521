-- Rule kind: frequent_visits (频繁门诊 / 频繁购药)
-- Grain: one row per visit of the given types at which the person's count of such visits, over the
--        visit's day and the lookback_days before it, exceeds max_visits (all facilities counted;
--        the hit is charged to the facility of the visit).
-- Parameters: med_types (codes, e.g. 11 outpatient or 41 pharmacy), lookback_days (int: 29 means a
--        30-day window), max_visits (int).
-- Amount at risk: the visit's fund payment.
WITH visits AS (
    SELECT
        mdtrt_id, psn_no, fixmedins_code, begntime, atddr_no,
        date_diff('day', DATE '1970-01-01', CAST(begntime AS DATE)) AS day_no
    FROM mdtrt_d
    WHERE med_type IN $med_types
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
            PARTITION BY v.psn_no ORDER BY v.day_no RANGE BETWEEN $lookback_days PRECEDING AND CURRENT ROW
        ) AS n_visits
    FROM visits AS v
    WHERE v.psn_no IN (SELECT psn_no FROM frequent_people)
),

flagged AS (
    SELECT * FROM counted WHERE n_visits > $max_visits
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
        q.n_visits,
        $lookback_days + 1 AS window_days
    FROM flagged AS q
    LEFT JOIN visit_fund AS f ON q.mdtrt_id = f.mdtrt_id
)

SELECT
    ${evidence_select}
FROM hits AS h
