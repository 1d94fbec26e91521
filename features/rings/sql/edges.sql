-- Ring graphs: who shares insured persons and drug boxes with whom, in the window (features/rings).
-- Inputs: stg_visit and win_fee (staging.sql: nothing on or after $as_of), fac_tier (facility types).
-- Parameters: $ring_chronic_diagnoses (ICD-10 prefixes of chronic care), $ring_burst_persons,
-- $ring_min_persons, $ring_min_codes (features/rings/__init__.py declares each).

-- ring_visit: one row per person × facility × day of the window, with what the day's care was.
CREATE OR REPLACE TEMP TABLE ring_visit AS
SELECT
    v.psn_no, v.fixmedins_code, v.visit_day, t.fixmedins_type,
    MAX(CASE WHEN t.fixmedins_type NOT IN ('clinic', 'pharmacy')
              AND SUBSTR(COALESCE(v.dscg_maindiag_code, ''), 1, 3) IN $ring_chronic_diagnoses
             THEN 1 ELSE 0 END) AS hospital_chronic,
    SUM(v.fund_pay) AS fund_pay,
    COUNT(*) AS visits
FROM stg_visit AS v
JOIN fac_tier AS t ON t.fixmedins_code = v.fixmedins_code
WHERE v.in_win AND v.psn_no IS NOT NULL
GROUP BY v.psn_no, v.fixmedins_code, v.visit_day, t.fixmedins_type;

-- ring_home: each person's own places in the window, the care facility and the pharmacy they came to
-- on most days (ties to the smaller code).
CREATE OR REPLACE TEMP TABLE ring_home AS
WITH days AS (
    SELECT psn_no, fixmedins_code, fixmedins_type = 'pharmacy' AS is_pharmacy, COUNT(*) AS n_days
    FROM ring_visit
    GROUP BY psn_no, fixmedins_code, fixmedins_type
),
ranked AS (
    SELECT psn_no, fixmedins_code, is_pharmacy,
           ROW_NUMBER() OVER (PARTITION BY psn_no, is_pharmacy ORDER BY n_days DESC, fixmedins_code) AS k
    FROM days
)
SELECT psn_no,
       MAX(CASE WHEN NOT is_pharmacy THEN fixmedins_code END) AS home_care,
       MAX(CASE WHEN is_pharmacy THEN fixmedins_code END) AS home_pharmacy
FROM ranked
WHERE k = 1
GROUP BY psn_no;

-- ring_covisit: the same card at two facilities on the same or the next day (fac_a < fac_b), less
-- the ordinary patterns: a hospital's chronic-care follow-up filled at a pharmacy (外配处方), and a
-- person's own care facility and own pharmacy on a day they went nowhere else (the nearest places,
-- where a household goes together). A card taken to a third facility that day is no errand.
CREATE OR REPLACE TEMP TABLE ring_covisit AS
WITH pairs AS (
    SELECT
        a.psn_no, a.fixmedins_code AS fac_a, b.fixmedins_code AS fac_b,
        LEAST(a.visit_day, b.visit_day) AS day,
        a.fund_pay + b.fund_pay AS fund_pay
    FROM ring_visit AS a
    JOIN ring_visit AS b ON b.psn_no = a.psn_no AND a.fixmedins_code < b.fixmedins_code
    WHERE ABS(DATE_DIFF('day', a.visit_day, b.visit_day)) <= 1
      AND NOT (a.fixmedins_type = 'pharmacy' AND b.hospital_chronic = 1)
      AND NOT (b.fixmedins_type = 'pharmacy' AND a.hospital_chronic = 1)
),
places AS (  -- facilities a card was at around each day it was at two
    SELECT psn_no, day, COUNT(DISTINCT fac) AS n_places
    FROM (SELECT psn_no, day, fac_a AS fac FROM pairs UNION ALL SELECT psn_no, day, fac_b AS fac FROM pairs) AS u
    GROUP BY psn_no, day
)
SELECT p.psn_no, p.fac_a, p.fac_b, p.day, p.fund_pay
FROM pairs AS p
JOIN places AS n ON n.psn_no = p.psn_no AND n.day = p.day
JOIN ring_home AS h ON h.psn_no = p.psn_no
WHERE n.n_places > 2
   OR NOT (COALESCE(h.home_care = p.fac_a AND h.home_pharmacy = p.fac_b, FALSE)
           OR COALESCE(h.home_care = p.fac_b AND h.home_pharmacy = p.fac_a, FALSE));

-- ring_card_edge: pairs sharing enough cards, with the days many of them came together.
CREATE OR REPLACE TEMP TABLE ring_card_edge AS
WITH per_day AS (
    SELECT fac_a, fac_b, day, COUNT(DISTINCT psn_no) AS persons
    FROM ring_covisit
    GROUP BY fac_a, fac_b, day
),
days AS (
    SELECT fac_a, fac_b,
           SUM(CASE WHEN persons >= $ring_burst_persons THEN 1 ELSE 0 END) AS burst_days,
           MAX(persons) AS most_in_a_day
    FROM per_day
    GROUP BY fac_a, fac_b
),
pairs AS (
    SELECT fac_a, fac_b, COUNT(DISTINCT psn_no) AS persons, COUNT(*) AS covisits, SUM(fund_pay) AS fund_pay
    FROM ring_covisit
    GROUP BY fac_a, fac_b
)
SELECT pairs.fac_a, pairs.fac_b, pairs.persons, pairs.covisits, pairs.fund_pay,
       days.burst_days, days.most_in_a_day
FROM pairs
JOIN days ON days.fac_a = pairs.fac_a AND days.fac_b = pairs.fac_b
WHERE pairs.persons >= $ring_min_persons;

-- ring_trace_edge: one drug box (追溯码) settled at two facilities, from the first sale (fac_a) to
-- the later one (fac_b, the resale). A refund repeats its sale's code at the same facility with a
-- negative amount; a box never rightly sells at two.
CREATE OR REPLACE TEMP TABLE ring_trace_edge AS
WITH sold AS (
    SELECT trace_code, fixmedins_code, MIN(fee_ocur_time) AS first_time
    FROM win_fee
    WHERE trace_code IS NOT NULL AND trace_code <> '' AND det_item_fee_sumamt > 0
    GROUP BY trace_code, fixmedins_code
)
SELECT a.fixmedins_code AS fac_a, b.fixmedins_code AS fac_b, COUNT(*) AS codes
FROM sold AS a
JOIN sold AS b ON b.trace_code = a.trace_code AND a.fixmedins_code <> b.fixmedins_code
 AND (a.first_time < b.first_time OR (a.first_time = b.first_time AND a.fixmedins_code < b.fixmedins_code))
GROUP BY a.fixmedins_code, b.fixmedins_code
HAVING COUNT(*) >= $ring_min_codes;
