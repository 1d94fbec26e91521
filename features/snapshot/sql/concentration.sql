-- Family: physician concentration, rolled up to the facility. Grain: one row per facility × as_of.
-- Reads physician_raw (the physician rows of this snapshot, before peer normalisation).
-- A physician's deviation is a robust z of fees per patient within department × tier peers
-- (physicians with at least 5 patients).
WITH p AS (
    SELECT dr_code, fixmedins_code, peer_group, dr_amount, dr_amount_per_patient
    FROM physician_raw
    WHERE dr_patients >= 5
),
peer_median AS (
    SELECT peer_group, MEDIAN(dr_amount_per_patient) AS med
    FROM p
    GROUP BY peer_group
),
peer_mad AS (
    SELECT p.peer_group, MEDIAN(ABS(p.dr_amount_per_patient - m.med)) AS mad
    FROM p
    JOIN peer_median AS m ON m.peer_group = p.peer_group
    GROUP BY p.peer_group
),
scored AS (
    SELECT p.fixmedins_code,
           (p.dr_amount_per_patient - m.med) / NULLIF(1.4826 * d.mad, 0) AS z
    FROM p
    JOIN peer_median AS m ON m.peer_group = p.peer_group
    JOIN peer_mad AS d ON d.peer_group = p.peer_group
),
ranked AS (
    SELECT fixmedins_code, dr_amount,
           ROW_NUMBER() OVER (PARTITION BY fixmedins_code ORDER BY dr_amount DESC, dr_code) AS rk,
           SUM(dr_amount) OVER (PARTITION BY fixmedins_code) AS total
    FROM physician_raw
    WHERE dr_amount > 0
),
shares AS (
    SELECT fixmedins_code,
           SUM(CASE WHEN rk = 1 THEN dr_amount ELSE 0 END) / NULLIF(MAX(total), 0) AS top1_physician_share,
           SUM(CASE WHEN rk <= 3 THEN dr_amount ELSE 0 END) / NULLIF(MAX(total), 0) AS top3_physician_share,
           COUNT(*) AS n_physicians_billing
    FROM ranked
    GROUP BY fixmedins_code
),
deviation AS (
    SELECT fixmedins_code,
           CASE WHEN MAX(z) > 50 THEN 50.0 ELSE MAX(z) END AS max_physician_peer_z,
           AVG(CASE WHEN z > 3 THEN 1.0 ELSE 0.0 END) AS outlier_physician_share
    FROM scored
    GROUP BY fixmedins_code
)
SELECT
    shares.fixmedins_code,
    shares.top1_physician_share,
    shares.top3_physician_share,
    shares.n_physicians_billing,
    deviation.max_physician_peer_z,
    deviation.outlier_physician_share
FROM shares
LEFT JOIN deviation ON deviation.fixmedins_code = shares.fixmedins_code
