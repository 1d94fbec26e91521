-- Rule kind: price_cap (超限定单价收费)
-- Grain: one row per fee line whose unit price exceeds the catalogue cap (catalog.price_cap) by more
--        than the tolerance. A price at the cap is compliant.
-- Parameters: tolerance_ratio (number: 0.05 allows 5 % above the cap, for rounding).
-- Amount at risk: (unit price − cap) × quantity.
WITH capped_items AS (
    SELECT med_list_codg, price_cap
    FROM catalog
    WHERE price_cap IS NOT NULL
),

flagged AS (
    SELECT l.*, (l.pric - i.price_cap) * l.cnt AS amount_at_risk, i.price_cap
    FROM rule_lines AS l
    INNER JOIN capped_items AS i ON l.med_list_codg = i.med_list_codg
    WHERE l.pric > i.price_cap * (1 + $tolerance_ratio)
)
