-- Family: the facility's own inspection history before as_of. Grain: one row per facility × as_of.
-- Reads src_insp (findings). Only inspections dated before $as_of count: a finding is a label for the
-- round it belongs to and a feature only for later rounds.
-- Parameters: $serious_recovered (yuan) and $serious_actions (agreement actions), features.facts'
-- declaration of a serious finding.
SELECT
    fixmedins_code,
    COUNT(*) AS prior_inspections,
    SUM(CASE WHEN amount_recovered >= $serious_recovered
               OR agreement_action IN $serious_actions OR referral THEN 1 ELSE 0 END)
        AS prior_serious_findings,
    SUM(amount_recovered) AS prior_recovered,
    DATE_DIFF('day', MAX(insp_date), $as_of) AS days_since_inspection
FROM src_insp
WHERE insp_date < $as_of
GROUP BY fixmedins_code
