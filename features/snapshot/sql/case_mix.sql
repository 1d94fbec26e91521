-- Family: case mix (DRG/DIP). Grain: one row per facility × as_of.
-- Reads stg_visit + stg_visit_fee for inpatient window visits with a DRG code. The DRG medians are
-- taken in DOUBLE (DuckDB rounds a DECIMAL midpoint down) and summed as DECIMAL (exact, order-free). The province medians per
-- DRG group are computed over the same window (peers' care for the same coded group).
WITH adm AS (
    SELECT s.fixmedins_code, s.drg_code, s.drg_weight, s.los, f.fee_total
    FROM stg_visit AS s
    JOIN stg_visit_fee AS f ON f.mdtrt_id = s.mdtrt_id
    WHERE s.in_win AND s.is_inpatient AND s.drg_code IS NOT NULL
),
drg_norm AS (
    SELECT drg_code, CAST(MEDIAN(CAST(fee_total AS DOUBLE)) AS DECIMAL(38, 6)) AS med_fee, MEDIAN(los) AS med_los
    FROM adm
    GROUP BY drg_code
)
SELECT
    adm.fixmedins_code,
    AVG(CAST(adm.drg_weight AS DECIMAL(38, 6))) AS case_mix_index,
    SUM(adm.fee_total) / NULLIF(SUM(n.med_fee), 0) AS drg_cost_index,
    SUM(adm.los) / NULLIF(SUM(n.med_los), 0) AS drg_los_index
FROM adm
JOIN drg_norm AS n ON n.drg_code = adm.drg_code
GROUP BY adm.fixmedins_code
