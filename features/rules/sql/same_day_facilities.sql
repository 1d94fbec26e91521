-- Rule kind: same_day_facilities (同日多机构就诊)
-- Grain: one row per visit of the given types made by a person who visited at least min_facilities
--        different facilities on that calendar day.
-- Parameters: med_types (codes), min_facilities (int).
-- Method: distinct facilities per person-day by a group-by (never a distinct count in a window).
-- Amount at risk: the visit's fund payment.
WITH visits AS (
    SELECT * FROM rule_visits WHERE med_type IN $med_types
),

candidate_days AS (
    -- fewer visits than min_facilities cannot reach min_facilities facilities: skip the distinct count
    SELECT psn_no, begin_date
    FROM visits
    GROUP BY psn_no, begin_date
    HAVING COUNT(*) >= $min_facilities
),

busy_days AS (
    SELECT v.psn_no, v.begin_date, COUNT(DISTINCT v.fixmedins_code) AS n_facilities
    FROM visits AS v
    INNER JOIN candidate_days AS c ON v.psn_no = c.psn_no AND v.begin_date = c.begin_date
    GROUP BY v.psn_no, v.begin_date
    HAVING COUNT(DISTINCT v.fixmedins_code) >= $min_facilities
),

flagged AS (
    SELECT v.*, b.n_facilities
    FROM visits AS v
    INNER JOIN busy_days AS b ON v.psn_no = b.psn_no AND v.begin_date = b.begin_date
)
