-- The end of every visit-level kind's query (features.rules): the kind's CTEs end with `flagged`, one
-- row per hit visit (rule_visits' columns and the kind's detail fields); the amount at risk is the
-- fund paid for the visit (setl_d.fund_pay_sumamt, refunds netted, summed exactly).
visit_fund AS (
    SELECT mdtrt_id, SUM(CAST(fund_pay_sumamt AS DECIMAL(18, 4))) AS fund_amt
    FROM setl_d
    WHERE mdtrt_id IN (SELECT mdtrt_id FROM flagged)
    GROUP BY mdtrt_id
),

hits AS (
    SELECT q.*, COALESCE(f.fund_amt, 0) AS amount_at_risk
    FROM flagged AS q
    LEFT JOIN visit_fund AS f ON q.mdtrt_id = f.mdtrt_id
)
